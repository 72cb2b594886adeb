import Foundation
import Synchronization
import GRDB

/// Sends per recipient over time, kept across runs for per-recipient caps.
///
/// ```swift
/// let counters = MemoryRecipientCounters()
/// try await counters.record([(.sms, "+8613800138000", now)])
/// try await counters.sends(channel: .sms, addresses: ["+8613800138000"], since: hourAgo)   // [address: [now]]
/// ```
public protocol RecipientCounters: Sendable {
    /// Send times per address since `since`, oldest first.
    func sends(channel: Channel, addresses: [String], since: Date) async throws -> [String: [Date]]
    /// Records sends.
    func record(_ sends: [(channel: Channel, address: String, at: Date)]) async throws
    /// Forgets counted sends older than `cutoff` (cap counters only; the ledger keeps every message).
    func pruneCounts(before cutoff: Date) async throws
    /// Runs one chunk's cap decisions: `decide` reads the counters it is given and returns the
    /// sends it approves. Counters shared by several workers (PostgreSQL) run it while no other
    /// worker decides and record the approvals before letting go, so two workers cannot both
    /// take an address's last allowed send. Others just run it: the record stage records the
    /// approvals with the chunk.
    func deciding(_ decide: (any RecipientCounters) async throws -> [(channel: Channel, address: String, at: Date)]) async throws
    /// Whether `deciding` records the approvals itself (counters shared by several workers).
    var recordsWhileDeciding: Bool { get }
}

extension RecipientCounters {
    public func deciding(_ decide: (any RecipientCounters) async throws -> [(channel: Channel, address: String, at: Date)]) async throws {
        _ = try await decide(self)
    }

    public var recordsWhileDeciding: Bool { false }
}

/// The in-memory twin of the SQLite counters.
public final class MemoryRecipientCounters: RecipientCounters, Sendable {
    private let times = Mutex<[String: [Date]]>([:])

    /// Creates empty counters.
    public init() {}

    public func sends(channel: Channel, addresses: [String], since: Date) async throws -> [String: [Date]] {
        times.withLock { times in
            addresses.reduce(into: [:]) { result, address in
                let list = times["\(channel.rawValue)|\(address)", default: []].filter { $0 > since }
                if !list.isEmpty { result[address] = list }
            }
        }
    }

    public func record(_ sends: [(channel: Channel, address: String, at: Date)]) async throws {
        times.withLock { times in
            for send in sends { times["\(send.channel.rawValue)|\(send.address)", default: []].append(send.at) }
        }
    }

    public func pruneCounts(before cutoff: Date) async throws {
        times.withLock { times in
            for key in times.keys { times[key]?.removeAll { $0 < cutoff } }
        }
    }
}

/// Counters in `outbox/herald.sqlite`, table `recipient_sends(channel, address, sent_at, count)`.
public final class SQLiteRecipientCounters: RecipientCounters, Sendable {
    private let database: DatabasePool

    /// The counters in `database`, their table created if needed.
    public init(database: WorkspaceDatabase) throws {
        self.database = database.pool
        try database.migrate([("2-recipient-sends", """
            CREATE TABLE recipient_sends (
                channel TEXT NOT NULL, address TEXT NOT NULL, sent_at REAL NOT NULL, count INTEGER NOT NULL DEFAULT 1,
                PRIMARY KEY (channel, address, sent_at)
            ) WITHOUT ROWID;
            """)])
    }

    public func sends(channel: Channel, addresses: [String], since: Date) async throws -> [String: [Date]] {
        guard !addresses.isEmpty else { return [:] }
        return try await database.read { db in
            var result: [String: [Date]] = [:]
            for start in stride(from: 0, to: addresses.count, by: 500) {
                let slice = Array(addresses[start..<min(addresses.count, start + 500)])
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                let rows = try Row.fetchAll(db, sql: """
                    SELECT address, sent_at, count FROM recipient_sends
                    WHERE channel = ? AND sent_at > ? AND address IN (\(marks)) ORDER BY sent_at
                    """, arguments: StatementArguments([channel.rawValue as any DatabaseValueConvertible, since.timeIntervalSince1970]
                                                   + slice.map { $0 as any DatabaseValueConvertible }))
                for row in rows {
                    let seconds: Double = row["sent_at"]
                    let count: Int = row["count"]
                    result[row["address"], default: []] += Array(repeating: Date(timeIntervalSince1970: seconds), count: max(1, count))
                }
            }
            return result
        }
    }

    public func record(_ sends: [(channel: Channel, address: String, at: Date)]) async throws {
        guard !sends.isEmpty else { return }
        try await database.write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO recipient_sends (channel, address, sent_at) VALUES (?, ?, ?)
                ON CONFLICT(channel, address, sent_at) DO UPDATE SET count = count + 1
                """)
            for send in sends {
                try statement.execute(arguments: [send.channel.rawValue, send.address, send.at.timeIntervalSince1970])
            }
        }
    }

    public func pruneCounts(before cutoff: Date) async throws {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM recipient_sends WHERE sent_at < ?", arguments: [cutoff.timeIntervalSince1970])
        }
    }
}
