import Foundation
import GRDB
import HeraldCore

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
