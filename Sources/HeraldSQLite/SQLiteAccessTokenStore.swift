import Foundation
import GRDB
import HeraldCore

/// Tokens in `outbox/herald.sqlite`, table `access_tokens(app_id, token, expires_at)`.
public final class SQLiteAccessTokenStore: AccessTokenStore, Sendable {
    private let database: DatabasePool

    /// The tokens in `database`, their table created if needed.
    public init(database: WorkspaceDatabase) throws {
        self.database = database.pool
        try database.migrate([("5-access-tokens", """
            CREATE TABLE access_tokens (app_id TEXT PRIMARY KEY NOT NULL, token TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID
            """)])
    }

    public func token(app: String) async throws -> AccessToken? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT token, expires_at FROM access_tokens WHERE app_id = ?", arguments: [app]).map { row in
                AccessToken(token: row["token"], expiresAt: Date(timeIntervalSince1970: row["expires_at"]))
            }
        }
    }

    public func save(_ token: AccessToken, app: String) async throws {
        try await database.write { db in
            try db.execute(sql: """
                INSERT INTO access_tokens (app_id, token, expires_at) VALUES (?, ?, ?)
                ON CONFLICT(app_id) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
                """, arguments: [app, token.token, token.expiresAt.timeIntervalSince1970])
        }
    }
}
