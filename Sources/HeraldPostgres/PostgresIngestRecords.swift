import Foundation
import HeraldCore
import PostgresNIO

/// `Idempotency-Key` records of `POST /v1/notifications` in PostgreSQL (`herald_ingest`), so
/// every replica answers a replay the same way.
public final class PostgresIngestRecords: IngestRecords, @unchecked Sendable {
    private let pool: PostgresPool

    /// The records in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("ingest-1", """
            CREATE TABLE herald_ingest (
                key TEXT PRIMARY KEY, body_sha256 TEXT NOT NULL, response TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            """)])
    }

    public func remember(key: String, bodyHash: String, response: String) async throws -> (bodyHash: String, response: String)? {
        try await pool.connection { session in
            let inserted = try await session.run("""
                INSERT INTO herald_ingest (key, body_sha256, response) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING
                """, [key, bodyHash, response])
            guard inserted == 0 else { return nil }
            return try await session.rows("SELECT body_sha256, response FROM herald_ingest WHERE key = $1", [key]).first
                .map { try $0.decode((String, String).self) }
        }
    }
}
