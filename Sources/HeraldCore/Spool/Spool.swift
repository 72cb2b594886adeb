import Foundation
import Synchronization

/// One deferred message waiting in `outbox/spool/`: already rendered, with its attempts.
public struct SpoolEntry: Sendable, Hashable, Codable {
    /// The message id (also the file name).
    public var id: String
    /// The batch id.
    public var batch: String
    /// The file (in `SpoolCorruption`: the spool file that cannot be read).
    public var file: String
    /// The recipient row of the batch (1 = first).
    public var row: Int
    /// The physical line of the batch file.
    public var line: Int?
    /// The channel.
    public var channel: Channel
    /// The account, SMS channel or app id that sends it.
    public var account: String
    /// The normalised address.
    public var address: String
    /// The recipient's reserved columns.
    public var recipient: Recipient
    /// The row's mail columns (cc, bcc, attachments).
    public var mail: MailExtras
    /// The rendered message, sent as it is on the next attempt.
    public var message: RenderedMessage
    /// Failed send attempts so far (0 when deferred before any send: caps, quiet hours).
    public var attempts: Int
    /// When Herald first tried (or deferred) it.
    public var firstSeen: Date
    /// Not to be sent before this.
    public var nextAttempt: Date
    /// Why it is waiting.
    public var lastErrorCode: String?
    /// The last attempt's error message.
    public var lastError: String?
    /// Why it waits: nil (or `.retry`) for a failed or held-back attempt; `.scheduled` for a row's
    /// `send_at`; `.escalation` for a variant held back until its escalation's time.
    public var kind: SpoolKind?
    /// For an escalation: what would make it unnecessary, checked when it is due.
    public var escalation: EscalationCheck?

    /// Creates an entry.
    public init(id: String, batch: String, file: String, row: Int, line: Int?, channel: Channel, account: String,
                address: String, recipient: Recipient, mail: MailExtras, message: RenderedMessage, attempts: Int,
                firstSeen: Date, nextAttempt: Date, lastErrorCode: String?, lastError: String?) {
        self.id = id
        self.batch = batch
        self.file = file
        self.row = row
        self.line = line
        self.channel = channel
        self.account = account
        self.address = address
        self.recipient = recipient
        self.mail = mail
        self.message = message
        self.attempts = attempts
        self.firstSeen = firstSeen
        self.nextAttempt = nextAttempt
        self.lastErrorCode = lastErrorCode
        self.lastError = lastError
    }

    /// The template's category, for priority.
    public var category: TemplateCategory { message.category }

    /// The entry of a delivery of `job`, with its last error.
    init(job: Job, delivery: Delivery, message: RenderedMessage, attempts: Int, firstSeen: Date, nextAttempt: Date) {
        self.init(id: delivery.id.value, batch: job.batch.id, file: job.batch.file, row: job.row.row, line: job.row.line,
                  channel: delivery.channel, account: delivery.account, address: delivery.address, recipient: job.row.recipient,
                  mail: job.row.mail, message: message, attempts: attempts, firstSeen: firstSeen, nextAttempt: nextAttempt,
                  lastErrorCode: delivery.error?.code.rawValue, lastError: delivery.error?.reason)
    }
}

/// Why a spool entry waits.
public enum SpoolKind: String, Sendable, Hashable, Codable {
    /// A failed attempt, or one held back by a cap, quiet hours or a rate.
    case retry
    /// A row's `send_at` is ahead.
    case scheduled
    /// A template's `escalate:` variant, sent only if the first message was not read, delivered or sent in time.
    case escalation
}

/// What an escalation waits for: sent only when none of `after` (the row's first messages)
/// reached `unless` by the time it is due.
public struct EscalationCheck: Sendable, Hashable, Codable {
    /// The row's first messages (the channels not held back).
    public var firstMessages: [String]
    /// `read`, `delivered` or `sent`.
    public var unless: EscalationCondition

    /// Creates a check.
    public init(firstMessages: [String], unless: EscalationCondition) {
        self.firstMessages = firstMessages
        self.unless = unless
    }
}

/// What makes an escalation unnecessary.
public enum EscalationCondition: String, Sendable, Hashable, Codable, CaseIterable {
    /// The 站内信 was read.
    case read
    /// A receipt said delivered.
    case delivered
    /// It was handed to the provider.
    case sent
}

/// Category order for work: a verification code never waits behind a marketing campaign.
extension TemplateCategory {
    /// 0 for verification, then system, transactional, marketing.
    public var priority: Int {
        switch self {
        case .verification: 0
        case .system: 1
        case .transactional: 2
        case .marketing: 3
        }
    }
}

/// A spool file that cannot be read back.
public struct SpoolCorruption: Error, Sendable, CustomStringConvertible {
    /// The file (in `SpoolCorruption`: the spool file that cannot be read).
    public var file: String
    /// Why it cannot be read.
    public var reason: String
    public var description: String { "spool file \(file) cannot be read: \(reason)" }
}

/// Messages waiting for their next attempt, and the dead letters given up on. The record stage
/// puts, buries and removes; `herald run` drains what is due; `herald spool` lists, revives and
/// purges. Implementations: `FileSpool` (the embedded default) and `MemorySpool` (its twin).
///
/// ```swift
/// try await spool.put(entry)                     // waiting until entry.nextAttempt
/// try await spool.due(at: now)                   // [entry] once its time has come, verification first
/// ```
public protocol Spool: Sendable {
    /// Writes (or replaces) a waiting entry.
    func put(_ entry: SpoolEntry) async throws
    /// Moves an entry to the dead letters with its latest state.
    func bury(_ entry: SpoolEntry) async throws
    /// Removes a waiting entry (sent, or suppressed since).
    func remove(_ id: String) async throws
    /// Entries waiting (or dead), oldest first within category priority.
    func entries(dead: Bool) async throws -> [SpoolEntry]
    /// Puts dead entries (all, or those in `ids`) back, due now, attempts reset; returns them.
    func revive(_ ids: [String]?, now: Date) async throws -> [SpoolEntry]
    /// Deletes dead entries that died before `cutoff`; returns how many.
    func purgeDead(diedBefore cutoff: Date) async throws -> Int
    /// Waiting entries whose time has come, in priority order, for this process to send. A spool
    /// shared by several workers hands each entry to one of them (until it is put back, removed
    /// or buried, or its lease runs out).
    func due(at now: Date) async throws -> [SpoolEntry]
    /// The entry of message `id`, waiting or dead (`herald trace`), or nil.
    func entry(id: String) async throws -> (entry: SpoolEntry, dead: Bool)?
}

extension Spool {
    public func entry(id: String) async throws -> (entry: SpoolEntry, dead: Bool)? {
        if let waiting = try await entries(dead: false).first(where: { $0.id == id }) { return (waiting, false) }
        return try await entries(dead: true).first { $0.id == id }.map { ($0, true) }
    }

    /// Entries waiting, oldest first within category priority.
    public func entries() async throws -> [SpoolEntry] { try await entries(dead: false) }

    /// Waiting entries whose time has come, in priority order.
    public func due(at now: Date) async throws -> [SpoolEntry] {
        try await entries(dead: false).filter { $0.nextAttempt <= now }
    }

    /// Puts every dead entry back, due now.
    @discardableResult
    public func revive(now: Date) async throws -> [SpoolEntry] { try await revive(nil, now: now) }

    /// The order spool listings use: category priority, then first seen, then id.
    static func ordered(_ entries: [SpoolEntry]) -> [SpoolEntry] {
        entries.sorted { ($0.category.priority, $0.firstSeen, $0.id) < ($1.category.priority, $1.firstSeen, $1.id) }
    }
}

/// The in-memory twin of `FileSpool`.
public final class MemorySpool: Spool, Sendable {
    private struct Entries {
        var waiting: [String: SpoolEntry] = [:]
        var dead: [String: SpoolEntry] = [:]
    }

    private let entries = Mutex(Entries())

    /// Creates an empty spool.
    public init() {}

    public func put(_ entry: SpoolEntry) throws { entries.withLock { $0.waiting[entry.id] = entry } }

    public func bury(_ entry: SpoolEntry) throws {
        entries.withLock { entries in
            entries.dead[entry.id] = entry
            entries.waiting[entry.id] = nil
        }
    }

    public func remove(_ id: String) throws { entries.withLock { $0.waiting[id] = nil } }

    public func entries(dead isDead: Bool) throws -> [SpoolEntry] {
        Self.ordered(entries.withLock { Array((isDead ? $0.dead : $0.waiting).values) })
    }

    public func revive(_ ids: [String]?, now: Date) throws -> [SpoolEntry] {
        entries.withLock { entries in
            var revived: [SpoolEntry] = []
            for var entry in Self.ordered(Array(entries.dead.values)) where ids.map({ $0.contains(entry.id) }) ?? true {
                entry.attempts = 0
                entry.nextAttempt = now
                entry.firstSeen = now
                entries.waiting[entry.id] = entry
                entries.dead[entry.id] = nil
                revived.append(entry)
            }
            return revived
        }
    }

    public func purgeDead(diedBefore cutoff: Date) throws -> Int {
        entries.withLock { entries in
            let old = entries.dead.values.filter { $0.nextAttempt < cutoff }.map(\.id)
            for id in old { entries.dead[id] = nil }
            return old.count
        }
    }
}

/// `outbox/spool/`: one JSON file per deferred message, written tmp → fsync → rename so a
/// crash leaves either the old file or the new one, never half of one; `dead/` holds messages
/// out of attempts or time. Maildir style: `tmp/` for writing, the folder itself for waiting.
public struct FileSpool: Spool {
    /// outbox/spool/
    public let folder: URL
    /// outbox/spool/dead/
    public var deadFolder: URL { folder.appendingPathComponent("dead", isDirectory: true) }
    private var tmpFolder: URL { folder.appendingPathComponent("tmp", isDirectory: true) }

    /// The spool of the workspace at `root`.
    public init(root: URL) {
        folder = WorkspacePaths(root: root).spool
    }

    public func put(_ entry: SpoolEntry) throws {
        try write(entry, into: folder)
    }

    public func bury(_ entry: SpoolEntry) throws {
        try write(entry, into: deadFolder)
        try remove(entry.id)
    }

    public func remove(_ id: String) throws {
        let url = folder.appendingPathComponent("\(id).json")
        if unlink(url.path) != 0 && errno != ENOENT {
            throw SpoolCorruption(file: url.lastPathComponent, reason: String(cString: strerror(errno)))
        }
    }

    public func entry(id: String) throws -> (entry: SpoolEntry, dead: Bool)? {
        // Ids are hex; anything else (a path) is no entry.
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }) else { return nil }
        for (source, dead) in [(folder, false), (deadFolder, true)] {
            let url = source.appendingPathComponent("\(id).json")
            if FileManager.default.fileExists(atPath: url.path) { return (try read(url), dead) }
        }
        return nil
    }

    public func entries(dead: Bool) throws -> [SpoolEntry] {
        let source = dead ? deadFolder : folder
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: source.path) else { return [] }
        return Self.ordered(try names.filter { $0.hasSuffix(".json") }.map { try read(source.appendingPathComponent($0)) })
    }

    /// How many entries wait (or are dead), counted by file name without reading them.
    public func count(dead: Bool = false) -> Int {
        let source = dead ? deadFolder : folder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: source.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.count
    }

    public func revive(_ ids: [String]?, now: Date) throws -> [SpoolEntry] {
        var revived: [SpoolEntry] = []
        for var entry in try entries(dead: true) where ids.map({ $0.contains(entry.id) }) ?? true {
            entry.attempts = 0
            entry.nextAttempt = now
            entry.firstSeen = now
            try put(entry)
            unlink(deadFolder.appendingPathComponent("\(entry.id).json").path)
            revived.append(entry)
        }
        return revived
    }

    public func purgeDead(diedBefore cutoff: Date) throws -> Int {
        var count = 0
        for entry in try entries(dead: true) where entry.nextAttempt < cutoff {
            unlink(deadFolder.appendingPathComponent("\(entry.id).json").path)
            count += 1
        }
        return count
    }

    /// Reads one spool file.
    public func read(_ url: URL) throws -> SpoolEntry {
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(SpoolEntry.self, from: Data(contentsOf: url))
        } catch {
            throw SpoolCorruption(file: url.lastPathComponent, reason: "\(error)")
        }
    }

    private func write(_ entry: SpoolEntry, into destination: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(entry)
        do {
            try DurableFile.write(data, to: destination.appendingPathComponent("\(entry.id).json"), tmpFolder: tmpFolder)
        } catch let error as DurableFileError {
            throw SpoolCorruption(file: "\(entry.id).json", reason: error.reason)
        }
    }
}
