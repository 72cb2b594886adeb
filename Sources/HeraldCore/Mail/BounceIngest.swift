import Foundation

/// What ingesting bounce and complaint messages did.
public struct BounceSummary: Sendable, Hashable {
    /// Hard bounces recorded: ledger `undelivered`, address suppressed.
    public var hard = 0
    /// Soft bounces (delays, 4.x.x), counted and logged.
    public var soft = 0
    /// Complaints: the address opted out of marketing mail.
    public var complaints = 0
    /// Reports that the mail arrived.
    public var delivered = 0
    /// Hard bounces for messages already recorded undelivered.
    public var duplicates = 0
    /// Messages kept aside in `recipients/unmatched-bounces/`: no report in them, or no message they name.
    public var unmatched = 0
    /// Why each kept message was kept (one line each, first 20).
    public var unmatchedReasons: [String] = []
    /// Entries of a Maildir that are not message files (sub-folders, links, FIFOs, devices), left
    /// where they are, one line each.
    public var skipped: [String] = []

    /// Creates zero counts.
    public init() {}

    /// Adds another summary's counts.
    public mutating func merge(_ other: BounceSummary) {
        hard += other.hard
        soft += other.soft
        complaints += other.complaints
        delivered += other.delivered
        duplicates += other.duplicates
        unmatched += other.unmatched
        unmatchedReasons += other.unmatchedReasons.prefix(max(0, 20 - unmatchedReasons.count))
        skipped += other.skipped
    }

    /// `2 hard, 1 soft, 1 complaint, 0 delivered, 0 duplicate, 1 unmatched` (and `, 1 skipped:
    /// …` for Maildir entries that are not message files).
    public var description: String {
        "\(hard) hard, \(soft) soft, \(complaints) complaint, \(delivered) delivered, \(duplicates) duplicate, \(unmatched) unmatched"
            + (skipped.isEmpty ? "" : ", \(skipped.count) skipped: " + skipped.prefix(3).joined(separator: "; "))
    }
}

/// Applies bounce and complaint messages to the ledger, the log and the preferences.
///
/// Each report is matched to the mail it is about by the VERP return path it was sent to, then
/// by the returned message's Message-ID, then by the recipient address (`recipientLookup`: the
/// latest mail Herald sent to it). A hard bounce makes the message `undelivered` with the status
/// and diagnostic and adds the address to the suppression list (reason `bounce`); a complaint
/// records an opt-out of marketing mail; a soft bounce is logged and counted.
public struct BounceIngest: Sendable {
    /// The ledger whose messages bounces update.
    public var ledger: any Ledger
    /// The log that gets a line per report.
    public var log: any EventLog
    /// The suppression list and opt-outs of the workspace; what bounces and complaints teach is
    /// recorded through it (and its store).
    public var preferences: Preferences?
    /// The latest mail message Herald sent to an address, for reports without VERP or Message-ID.
    public var recipientLookup: @Sendable (_ address: String) throws -> MessageID?
    /// Whether addresses are masked in log lines.
    public var masking: RecipientMasking
    /// The time written on log lines.
    public var clock: @Sendable () -> Date

    /// Creates an ingester.
    public init(ledger: any Ledger, log: any EventLog, preferences: Preferences?, masking: RecipientMasking = .masked,
                recipientLookup: @escaping @Sendable (String) throws -> MessageID? = { _ in nil },
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.ledger = ledger
        self.log = log
        self.preferences = preferences
        self.masking = masking
        self.recipientLookup = recipientLookup
        self.clock = clock
    }

    /// Applies one message's reports; returns what it did, and why it is unmatched when it is
    /// (nil when every report found its message).
    public func apply(_ reports: [BounceReport], source: String) async throws -> (BounceSummary, unmatched: String?) {
        var summary = BounceSummary()
        var events: [LogEvent] = []
        var updated: [LedgerEntry] = []
        var missing: [String] = []
        let now = clock()
        // Reports naming one message by its VERP id or Message-ID, by recipient: a message has one
        // recipient, so several for one message say the report is not the message's own.
        var recipientsOf: [String: Set<String>] = [:]
        for report in reports {
            if let herald = report.herald { recipientsOf[herald, default: []].insert(Preferences.normalize(report.recipient ?? "", channel: .mail)) }
        }
        for report in reports {
            var id = report.herald.map(MessageID.init)
            if id == nil, let recipient = report.recipient { id = try recipientLookup(recipient) }
            guard let id, var entry = try await ledger.entries(ids: [id], providerIDs: []).first, entry.channel == .mail else {
                missing.append(report.herald.map { "message \($0) is not a mail message in the ledger" }
                               ?? "no VERP address, Herald Message-ID or known recipient (\(masking.apply(report.recipient ?? "none", channel: .mail)))")
                continue
            }
            let address = report.recipient
            let shown = address.map { masking.apply($0, channel: .mail) }
            // The VERP address is seen by everyone a mail went to, and a report is easy to forge:
            // it may only touch the recipient of the message it names.
            if report.herald != nil, let address {
                let named = entry.recipient.map { $0 == LedgerEntry.recipientDigest(of: address, channel: .mail) }
                    ?? ((recipientsOf[entry.id.value]?.count ?? 0) <= 1)
                guard named else {
                    missing.append("the report names \(shown ?? "another address") for message \(entry.id), which was not sent to that address; "
                                   + "nothing was changed for it")
                    continue
                }
            }
            let diagnostic = report.diagnostic.map { text in
                masking.scrub(text, addresses: address.map { [($0, Channel.mail)] } ?? [])
            }
            var error: PipelineError?
            switch report.kind {
            case .hard:
                if entry.status == .undelivered { summary.duplicates += 1; continue }
                summary.hard += 1
                entry.status = .undelivered
                entry.errorCode = FailureCode(report.status)
                entry.errorMessage = diagnostic ?? "bounced (\(report.status))"
                entry.updatedAt = now
                updated.append(entry)
                error = PipelineError(stage: .record, file: "bounces", code: FailureCode(report.status), reason: entry.errorMessage ?? report.status)
                if let address, let preferences {
                    try await preferences.suppress(address, channel: .mail, reason: "bounce", tenant: entry.tenant, since: now)
                }
            case .soft:
                summary.soft += 1
                error = PipelineError(stage: .record, file: "bounces", code: FailureCode(report.status),
                                      reason: diagnostic ?? "delayed (\(report.status))")
            case .complaint:
                summary.complaints += 1
                if let address {
                    try await preferences?.recordOptOut(address: address, channel: .mail, category: .marketing, tenant: entry.tenant, at: now)
                }
            case .delivered:
                summary.delivered += 1
                if entry.status == .sent {
                    entry.status = .delivered
                    entry.updatedAt = now
                    updated.append(entry)
                }
            }
            var extra = ["bounce": report.kind.rawValue, "bounce_status": report.status, "source": source]
            if report.kind == .complaint, address == nil { extra["opt_out"] = "no address in the report" }
            events.append(LogEvent(timestamp: now, messageID: entry.id, batch: entry.batch, file: "bounces", row: entry.row,
                                   template: entry.template, channel: .mail, recipient: shown, status: entry.status,
                                   attempt: entry.attempt, providerID: entry.providerID, error: error, extra: extra))
            events[events.count - 1].traceAddress = address
        }
        try log.append(events)
        try log.flush()
        try await ledger.record(updated)
        return (summary, missing.isEmpty ? nil : missing.joined(separator: "; "))
    }
}

/// Bounce and complaint messages on disk: `.eml` files, mbox files and Maildirs, dropped in
/// `recipients/inbox/bounces/` or given to `herald bounces ingest PATH`. Each file read through
/// moves to `recipients/processed/bounces/` (a Maildir's messages to a folder of its name);
/// a message that is not a report or matches no message is kept in
/// `recipients/unmatched-bounces/` as an `.eml` file beside a `.txt` saying why.
public struct BounceFiles: Sendable {
    /// The workspace folder.
    public let root: URL
    /// Reads the reports in each message (HeraldChannels' `DeliveryReportParser`).
    public let parser: any BounceParser

    /// Bounce files of the workspace at `root`, read by `parser`.
    public init(root: URL, parser: any BounceParser) {
        self.root = root
        self.parser = parser
    }

    /// The messages of `url`: one for an `.eml` file, every message of an mbox file (a file whose
    /// first line starts `From `), every message in `new/` and `cur/` of a Maildir.
    public static func messages(at url: URL) throws -> [(name: String, data: Data)] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw BatchRejection(reason: "no such file or folder")
        }
        if isFolder.boolValue { return try messages(of: maildirFiles(url).files) }
        let data = try read(url)
        guard data.starts(with: Array("From ".utf8)) else { return [(url.lastPathComponent, data)] }
        return mbox(data).enumerated().map { ("\(url.lastPathComponent)#\($0.offset + 1)", $0.element) }
    }

    /// The messages of a Maildir's message files, by file name.
    static func messages(of files: [URL]) throws -> [(name: String, data: Data)] {
        try files.map { ($0.lastPathComponent, try read($0)) }
    }

    /// The largest bounce file read (an mbox of many bounces included); a larger one is refused
    /// with the advice to split it, before it is read into memory.
    public static let largestFile = 256 << 20

    /// The bytes of a regular file, opened without following a symbolic link and without
    /// waiting on a FIFO, and checked to be a regular file once open (so nothing can be swapped
    /// in between): a bounce file follows the batch rules, and a link to `/etc/passwd` is not read.
    static func read(_ url: URL) throws -> Data {
        let name = url.lastPathComponent
        let fd = open(url.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let reason = errno == ELOOP ? "it is a symbolic link; bounce files must be regular files in the folder"
                                        : String(cString: strerror(errno))
            throw BatchRejection(reason: "cannot read \(name): \(reason)")
        }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw BatchRejection(reason: "cannot read \(name): \(String(cString: strerror(errno)))") }
        if let kind = DropFolder.nonRegularKind(status.st_mode) {
            throw BatchRejection(reason: "cannot read \(name): it is \(kind), not a regular file")
        }
        let size = Int(status.st_size)
        guard size <= largestFile else {
            throw BatchRejection(reason: "\(name) is \(size >> 20) MB; bounce files are read up to \(largestFile >> 20) MB, split it")
        }
        var data = Data(count: size)
        var offset = 0
        while offset < size {
            let count = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, size - offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            offset += count
        }
        data.count = offset
        return data
    }

    /// The message files of a Maildir (`new/`, then `cur/`), name order, and a note for each
    /// entry that is not a regular file (a sub-folder, a symbolic link, a FIFO, a device): those
    /// are left where they are, and the rest of the Maildir is read.
    static func maildirFiles(_ folder: URL) throws -> (files: [URL], skipped: [String]) {
        let parts = ["new", "cur"].map { folder.appendingPathComponent($0, isDirectory: true) }
        var status = stat()
        guard lstat(folder.path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            throw BatchRejection(reason: "\(folder.lastPathComponent) is a symbolic link to a folder; a Maildir must be a folder in recipients/inbox/bounces/")
        }
        guard parts.contains(where: { lstat($0.path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR }) else {
            throw BatchRejection(reason: "a folder that is not a Maildir (no new/ or cur/ folder)")
        }
        var files: [URL] = []
        var skipped: [String] = []
        for part in parts where lstat(part.path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: part.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let url = part.appendingPathComponent(name)
                guard lstat(url.path, &status) == 0 else { continue }
                if let kind = DropFolder.nonRegularKind(status.st_mode) {
                    skipped.append("\(folder.lastPathComponent)/\(part.lastPathComponent)/\(name) is \(kind), not a message file; left where it is")
                } else {
                    files.append(url)
                }
            }
        }
        return (files, skipped)
    }

    /// The messages of an mbox: split before each `From ` line, the separator line dropped and
    /// `>From ` lines unquoted once (mboxrd).
    static func mbox(_ data: Data) -> [Data] {
        var messages: [Data] = []
        var current: [UInt8] = []
        var started = false
        let bytes = [UInt8](data)
        var lineStart = 0
        let from = Array("From ".utf8)
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            let line = bytes[lineStart..<min(lineEnd + 1, bytes.count)]
            if line.starts(with: from) {
                if started { messages.append(Data(current)) }
                current = []
                started = true
            } else {
                var unquoted = line[...]
                if let first = unquoted.firstIndex(where: { $0 != UInt8(ascii: ">") }), first > unquoted.startIndex,
                   unquoted[first...].starts(with: from) {
                    unquoted = unquoted.dropFirst()
                }
                current += unquoted
            }
            lineStart = lineEnd + 1
        }
        if started { messages.append(Data(current)) }
        return messages
    }

    /// Reads and applies every message of `url`; unmatched ones are kept aside. Moves the file
    /// (or a Maildir's messages) to processed/ when `move` is true.
    public func ingest(_ url: URL, with ingest: BounceIngest, move: Bool) async throws -> BounceSummary {
        var summary = BounceSummary()
        var isFolder: ObjCBool = false
        // A Maildir is listed once: the files read are the files moved (one arriving meanwhile waits for the next run).
        let maildir = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) && isFolder.boolValue
            ? try Self.maildirFiles(url) : nil
        summary.skipped = maildir?.skipped ?? []
        let messages = try maildir.map { try Self.messages(of: $0.files) } ?? Self.messages(at: url)
        for (name, data) in messages {
            do {
                let (applied, unmatched) = try await ingest.apply(try parser.reports(in: data), source: name)
                summary.merge(applied)
                if let unmatched { try keepAside(data, name: name, because: unmatched, into: &summary) }
            } catch let rejection as BatchRejection {
                try keepAside(data, name: name, because: rejection.reason, into: &summary)
            }
        }
        guard move else { return summary }
        let processed = WorkspacePaths(root: root).bouncesProcessed
        if let maildir {
            let folder = processed.appendingPathComponent(url.lastPathComponent, isDirectory: true)
            for file in maildir.files { _ = try DropFolder.move(file, into: folder) }
        } else {
            _ = try DropFolder.move(url, into: processed)
        }
        return summary
    }

    /// Settled files and Maildirs waiting in `recipients/inbox/bounces/`.
    public static func waiting(root: URL, settle: Duration, now: Date) -> [URL] {
        let folder = WorkspacePaths(root: root).bouncesWaiting
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let maildirs = names.sorted().map { folder.appendingPathComponent($0, isDirectory: true) }.filter { url in
            ["new", "cur"].contains { FileManager.default.fileExists(atPath: url.appendingPathComponent($0).path) }
                && ((try? Self.maildirFiles(url)).map { !$0.files.isEmpty } ?? true)  // one it refuses is rejected, with why
        }
        let files = (try? DropFolder.scan(folder, settle: settle, now: now).ready) ?? []
        return files + maildirs
    }

    private func keepAside(_ data: Data, name: String, because reason: String, into summary: inout BounceSummary) throws {
        let folder = WorkspacePaths(root: root).bouncesUnmatched
        let base = "\(Int(Date().timeIntervalSince1970 * 1000))-\(UUID().uuidString.lowercased().prefix(8))-"
            + name.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" ? $0 : "_" }
        try DurableFile.write(data, to: folder.appendingPathComponent(base.hasSuffix(".eml") ? base : base + ".eml"))
        try DurableFile.write(Data((reason + "\n").utf8), to: folder.appendingPathComponent(base + ".txt"))
        summary.unmatched += 1
        if summary.unmatchedReasons.count < 20 { summary.unmatchedReasons.append("\(name): \(reason)") }
    }

}
