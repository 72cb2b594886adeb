import Foundation
import Synchronization

/// `recipients/preferences.csv` (opt-outs) and `recipients/suppressions.csv` (addresses not to
/// mail: hard bounces, complaints, 退订), consulted by the rate-limit stage.
///
/// preferences.csv: `user_id,address,channel,category,opt_out,tenant_id` — an empty or `*` cell
/// matches anything; `opt_out` is true/false (yes/no/1/0). suppressions.csv:
/// `address,reason,since,tenant_id`. A rule holds in its `tenant_id` only; without one (the
/// column empty, `*` or missing) in every tenant, which is what an operator's own rules usually
/// mean. What Herald learns (unsubscribes, complaints, bounces) is written for the tenant of the
/// message it came from. Opt-outs never apply to `verification` and `system` messages; a
/// suppression whose reason is a bounce (`bounce`, `hard_bounce`, `invalid`) applies to every
/// category, any other reason (unsubscribe, 退订, complaint) is an opt-out.
public final class Preferences: Sendable {
    private struct OptOut: Hashable {
        var userID: String?
        var address: String?
        var channel: Channel?
        var category: TemplateCategory?
        var tenant: String?
    }

    /// The rules in memory.
    private struct Rules {
        var optOuts: [OptOut] = []
        var byUser: [String: [OptOut]] = [:]
        var byAddress: [String: [OptOut]] = [:]
        /// Address → tenant ("" for every tenant) → reason.
        var suppressed: [String: [String: String]] = [:]
    }

    private let rules = Mutex(Rules())
    private let suppressionsFile: URL?

    /// Where what Herald learns about recipients (hard bounces, complaints) is recorded: the
    /// workspace's CSV files when loaded from a workspace, the shared store when one is given.
    public let store: (any OptOutStore)?

    /// Empty preferences (the in-memory twin when no files or store are given).
    public init(suppressionsFile: URL? = nil, store: (any OptOutStore)? = nil) {
        self.suppressionsFile = suppressionsFile
        self.store = store
    }

    /// Reads both files of the workspace at `root`; rows that cannot be read are reported. What
    /// Herald learns is recorded in `store`, or in the workspace's files when none is given.
    public static func load(root: URL, store: (any OptOutStore)? = nil) -> (Preferences, [Diagnostic]) {
        let paths = WorkspacePaths(root: root)
        let preferences = Preferences(suppressionsFile: paths.suppressions, store: store ?? FileOptOutStore(root: root))
        var diagnostics: [Diagnostic] = []
        for (url, read) in [(paths.preferences, preferences.readPreference), (paths.suppressions, preferences.readSuppression)] {
            let name = url.lastPathComponent
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            do {
                let reader = try CSVReader(url: url)
                guard let header = try reader.next()?.fields.map({ $0.trimmingCharacters(in: .whitespaces).lowercased() }) else { continue }
                while let record = try reader.next() {
                    let fields = Dictionary(zip(header, record.fields), uniquingKeysWith: { first, _ in first })
                    if let problem = read(fields) {
                        diagnostics.append(.warning(problem, at: SourceLocation(file: "recipients/\(name)", line: record.line)))
                    }
                }
            } catch {
                diagnostics.append(.warning("cannot read: \(error)", at: SourceLocation(file: "recipients/\(name)")))
            }
        }
        return (preferences, diagnostics)
    }

    /// Why a message of `tenant` to this recipient must not be sent, or nil.
    public func reason(channel: Channel, category: TemplateCategory, userID: String?, address: String, tenant: String = "0") -> String? {
        if rules.withLock({ $0.suppressed.isEmpty && $0.optOuts.isEmpty }) { return nil }
        let key = Self.normalize(address, channel: channel)
        return rules.withLock { rules in
            if let reasons = rules.suppressed[key], let why = reasons[tenant] ?? reasons[""] {
                let isBounce = Self.isBounce(why)
                if isBounce || (category != .verification && category != .system) {
                    return "\(Self.describe(key, channel)) is on the suppression list (\(why))"
                }
            }
            guard category != .verification && category != .system else { return nil }
            let candidates = (userID.flatMap { rules.byUser[$0] } ?? []) + (rules.byAddress[key] ?? [])
            for rule in candidates where (rule.channel ?? channel) == channel && (rule.category ?? category) == category
                && (rule.tenant ?? tenant) == tenant {
                let who = rule.userID.map { "user \($0)" } ?? Self.describe(key, channel)
                return "\(who) opted out of \(category.rawValue) \(channel.rawValue) messages (recipients/preferences.csv)"
            }
            return nil
        }
    }

    /// Adds an address to the suppression list of `tenant` (nil: every tenant), in memory and in
    /// the store (suppressions.csv unless a shared store is set); an address already suppressed
    /// there is left as it is.
    public func suppress(_ address: String, channel: Channel, reason: String, tenant: String?, since: Date) async throws {
        try Self.checkRecordable(address, channel: channel)
        let key = Self.normalize(address, channel: channel)
        let isNew = rules.withLock { rules -> Bool in
            guard rules.suppressed[key]?[tenant ?? ""] == nil else { return false }
            rules.suppressed[key, default: [:]][tenant ?? ""] = reason
            return true
        }
        guard isNew else { return }
        if let store {
            _ = try await store.recordSuppression(address: key, reason: reason, tenant: tenant, at: since)
        } else if let suppressionsFile {
            try Self.appendSuppression(to: suppressionsFile, address: key, reason: reason, tenant: tenant, since: since)
        }
    }

    /// Appends `address,reason,since,tenant_id` to a suppressions.csv (with its header when new;
    /// a header from before tenants gains the column first).
    static func appendSuppression(to file: URL, address: String, reason: String, tenant: String?, since: Date) throws {
        try checkRecordable(address, channel: nil)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try upgradeHeader(of: file, from: "address,reason,since")
        // O_APPEND and one write: a run and `herald bounces ingest` suppressing at once both keep their line.
        let fd = open(file.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else {
            throw BatchRejection(reason: "cannot write recipients/\(file.lastPathComponent): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var status = stat()
        let isEmpty = fstat(fd, &status) == 0 && status.st_size == 0
        let line = (isEmpty ? "address,reason,since,tenant_id\n" : "")
            + "\(CSVField.quoted(normalize(address, channel: nil))),\(CSVField.quoted(reason)),"
            + "\(Timestamp.iso8601(since, timeZone: TimeZone(identifier: "UTC") ?? .current)),\(CSVField.quoted(tenant ?? ""))\n"
        let bytes = Array(line.utf8)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw BatchRejection(reason: "cannot write recipients/\(file.lastPathComponent): \(String(cString: strerror(errno)))")
        }
    }

    /// Adds an opt-out Herald learned (a complaint) in `tenant`, in memory and in the store when there is one.
    public func recordOptOut(address: String, channel: Channel, category: TemplateCategory, tenant: String?, at: Date) async throws {
        try Self.checkRecordable(address, channel: channel)
        optOut(address: address, channel: channel, category: category, tenant: tenant)
        _ = try await store?.recordOptOut(address: address, channel: channel, category: category, tenant: tenant, at: at)
    }

    /// Adds a suppression read from a store (no write back); a nil tenant is every tenant.
    public func addSuppression(_ address: String, reason: String, tenant: String? = nil) {
        rules.withLock { $0.suppressed[Self.normalize(address, channel: nil), default: [:]][tenant ?? ""] = reason }
    }

    /// Adds `,tenant_id` to the header of a CSV file written before rules had tenants (rows
    /// without the cell are every tenant's, as they were), under the file's lock.
    static func upgradeHeader(of file: URL, from old: String) throws {
        guard let handle = FileHandle(forReadingAtPath: file.path) else { return }
        let start = (try? handle.read(upToCount: 256)) ?? Data()
        try? handle.close()
        let firstLine = String(decoding: start.prefix { $0 != 0x0A }, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard firstLine.lowercased() == old else { return }
        try locked(file, lockName: ".\(file.lastPathComponent).lock") {
            guard let text = try? String(contentsOf: file, encoding: .utf8), let upgraded = withTenantColumn(text, header: old) else { return }
            try DurableFile.write(Data(upgraded.utf8), to: file)
        }
    }

    /// `text` with `,tenant_id` added to its first line when that line is `header` (a file from
    /// before rules had tenants), or nil when it needs nothing.
    static func withTenantColumn(_ text: String, header: String) -> String? {
        guard let end = text.firstIndex(of: "\n"), text[..<end].trimmingCharacters(in: .whitespacesAndNewlines).lowercased() == header else {
            return nil
        }
        var upgraded = text
        upgraded.replaceSubrange(..<end, with: header + ",tenant_id")
        return upgraded
    }

    /// Runs `body` holding the exclusive lock `lockName` beside `file` (one writer across processes).
    static func locked<T>(_ file: URL, lockName: String, _ body: () throws -> T) throws -> T {
        let lock = open(file.deletingLastPathComponent().appendingPathComponent(lockName).path, O_CREAT | O_RDWR, 0o644)
        guard lock >= 0 else { throw BatchRejection(reason: "cannot lock recipients/\(file.lastPathComponent): \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        flock(lock, LOCK_EX)
        defer { flock(lock, LOCK_UN) }
        return try body()
    }

    /// Records an opt-out in `recipients/preferences.csv` of the workspace at `root`, durably and
    /// whole (the file is rewritten tmp → fsync → rename under a lock, never half-written); a rule
    /// already there is not added twice. Returns whether it was new.
    @discardableResult
    public static func recordOptOut(root: URL, address: String, channel: Channel, category: TemplateCategory, tenant: String?) throws -> Bool {
        let paths = WorkspacePaths(root: root)
        let file = paths.preferences
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        return try locked(file, lockName: ".preferences.lock") {
            let header = "user_id,address,channel,category,opt_out"
            var text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
            if text.isEmpty { text = header + ",tenant_id\n" }
            if !text.hasSuffix("\n") { text += "\n" }
            text = withTenantColumn(text, header: header) ?? text
            try checkRecordable(address, channel: channel)
            let line = ",\(CSVField.quoted(normalize(address, channel: channel))),\(channel.rawValue),\(category.rawValue),true,\(CSVField.quoted(tenant ?? ""))"
            guard !text.split(separator: "\n").contains(where: { $0 == line }) else { return false }
            try DurableFile.write(Data((text + line + "\n").utf8), to: file)
            return true
        }
    }

    /// Refuses to record what is not an address of `channel` (any channel when nil): what Herald
    /// learns from a complaint or a bounce comes from outside, and must not become a rule it did
    /// not mean (a "recipient" with commas and line breaks wrote a rule for another user).
    static func checkRecordable(_ address: String, channel: Channel?) throws {
        let channels: [Channel] = channel.map { [$0] } ?? (address.contains("@") ? [.mail] : [.sms])
        for channel in channels {
            // The reason names the problem, not the text: it may be long, and it is an address.
            let problem: String? = switch channel {
            case .mail: AddressValidation.emailProblem(address)
            default: (try? AddressValidation.normalize(address, for: channel).get()) == nil ? "not a valid address" : nil
            }
            if let problem { throw BatchRejection(reason: "the \(channel.rawValue) address is not recorded: \(problem)") }
        }
    }

    /// Adds an opt-out (tests, and the `notice`/unsubscribe flows later).
    public func optOut(userID: String? = nil, address: String? = nil, channel: Channel? = nil, category: TemplateCategory? = nil,
                       tenant: String? = nil) {
        let rule = OptOut(userID: userID, address: address.map { Self.normalize($0, channel: channel) }, channel: channel, category: category,
                          tenant: tenant)
        rules.withLock { rules in
            rules.optOuts.append(rule)
            if let userID { rules.byUser[userID, default: []].append(rule) }
            if let address = rule.address { rules.byAddress[address, default: []].append(rule) }
        }
    }

    private func readPreference(_ fields: [String: String]) -> String? {
        func cell(_ name: String) -> String? { Self.cell(fields, name) }
        let flag = cell("opt_out")?.lowercased() ?? "true"
        guard ["true", "yes", "1", "y"].contains(flag) || ["false", "no", "0", "n"].contains(flag) else {
            return "opt_out is '\(flag)'; write true or false"
        }
        guard ["true", "yes", "1", "y"].contains(flag) else { return nil }
        var channel: Channel?
        if let name = cell("channel") {
            guard let known = Channel(rawValue: name) else { return "unknown channel '\(name)'" }
            channel = known
        }
        var category: TemplateCategory?
        if let name = cell("category") {
            guard let known = TemplateCategory(rawValue: name) else { return "unknown category '\(name)'" }
            category = known
        }
        guard cell("user_id") != nil || cell("address") != nil else { return "a preference needs a user_id or an address" }
        optOut(userID: cell("user_id"), address: cell("address"), channel: channel, category: category, tenant: cell("tenant_id"))
        return nil
    }

    /// A cell of a preferences or suppressions row: nil when empty or `*` (anything matches).
    private static func cell(_ fields: [String: String], _ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty, value != "*" else { return nil }
        return value
    }

    private func readSuppression(_ fields: [String: String]) -> String? {
        guard let address = fields["address"]?.trimmingCharacters(in: .whitespaces), !address.isEmpty else {
            return "a suppression needs an address"
        }
        let reason = fields["reason"]?.trimmingCharacters(in: .whitespaces) ?? ""
        addSuppression(address, reason: reason.isEmpty ? "suppressed" : reason, tenant: Self.cell(fields, "tenant_id"))
        return nil
    }

    static func isBounce(_ reason: String) -> Bool {
        ["bounce", "hard_bounce", "hard bounce", "invalid"].contains(reason.lowercased())
    }

    /// An address as opt-outs and suppressions key it: lowercased email, `+86…` mobile, other
    /// ids as given (stores outside Core key their rows the same way).
    public static func normalize(_ address: String, channel: Channel?) -> String {
        let trimmed = address.trimmingCharacters(in: .whitespaces)
        if trimmed.contains("@") { return trimmed.lowercased() }
        if channel == nil || channel == .sms, let mobile = AddressValidation.normalizeMobile(trimmed) { return mobile }
        return trimmed
    }

    private static func describe(_ address: String, _ channel: Channel) -> String {
        RecipientMasking.masked.apply(address, channel: channel)
    }
}
