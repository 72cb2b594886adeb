import Foundation
import GRDB
import HeraldCore

/// Quotas in `outbox/herald.sqlite`, table `account_quota(account, day, used)`; a take is one
/// write transaction, so runs of the same workspace share the count.
public final class SQLiteAccountQuotas: AccountQuotas, Sendable {
    private let database: DatabasePool

    /// The quotas in `database`, their table created if needed.
    public init(database: WorkspaceDatabase) throws {
        self.database = database.pool
        try database.migrate([("8-account-quota", """
            CREATE TABLE account_quota (account TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL,
                                        PRIMARY KEY (account, day)) WITHOUT ROWID;
            """)])
    }

    public func take(_ key: TransportKey, day: String, limit: Int, upTo count: Int) async throws -> Int {
        try await database.write { db in
            let used = try Int.fetchOne(db, sql: "SELECT used FROM account_quota WHERE account = ? AND day = ?", arguments: [key.description, day]) ?? 0
            let granted = max(0, min(count, limit - used))
            if granted > 0 {
                try db.execute(sql: """
                    INSERT INTO account_quota (account, day, used) VALUES (?, ?, ?)
                    ON CONFLICT(account, day) DO UPDATE SET used = used + excluded.used
                    """, arguments: [key.description, day, granted])
            }
            return granted
        }
    }

    public func used(_ key: TransportKey, day: String) async throws -> Int {
        try await database.read { db in
            try Int.fetchOne(db, sql: "SELECT used FROM account_quota WHERE account = ? AND day = ?", arguments: [key.description, day]) ?? 0
        }
    }
}
