import Foundation
import HeraldCore
import PostgresNIO

/// `Idempotency-Key` records of `POST /v1/notifications` in PostgreSQL (`herald_ingest`), so
/// every replica answers a replay the same way.
public final class PostgresIngestRecords: IngestRecords, Sendable {
    private let pool: PostgresPool

    /// The records in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("ingest-1", """
            CREATE TABLE herald_ingest (
                key TEXT PRIMARY KEY, body_sha256 TEXT NOT NULL, response TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            """),
            // Keys are claimed before their batch is queued; records written before were settled.
            ("ingest-2", "ALTER TABLE herald_ingest ADD COLUMN settled BOOLEAN NOT NULL DEFAULT true;"),
        ])
    }

    public func claim(key: String, bodyHash: String, response: String) async throws -> IngestClaim {
        try await pool.connection { session in
            let inserted = try await session.run("""
                INSERT INTO herald_ingest (key, body_sha256, response, settled) VALUES ($1, $2, $3, false) ON CONFLICT (key) DO NOTHING
                """, [key, bodyHash, response])
            guard inserted == 0 else { return .won }
            guard let row = try await session.rows("""
                SELECT body_sha256, response, settled, extract(epoch FROM now() - created_at)::float8 FROM herald_ingest WHERE key = $1
                """, [key]).first else {
                throw PostgresStoreError("the Idempotency-Key record of \(key) went away while it was claimed")
            }
            let (hash, answer, settled, age) = try row.decode((String, String, Bool, Double).self)
            return .taken(bodyHash: hash, response: answer, settled: settled, age: age)
        }
    }

    public func settle(key: String) async throws {
        try await pool.connection { session in
            _ = try await session.run("UPDATE herald_ingest SET settled = true WHERE key = $1", [key])
        }
    }
}
