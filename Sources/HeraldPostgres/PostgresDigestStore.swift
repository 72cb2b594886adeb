import Foundation
import HeraldCore
import PostgresNIO

/// Digests in PostgreSQL, so rows of one key that arrive on different workers fold into one
/// digest. A row is added under an advisory lock on (template, key); a due digest is leased to
/// the worker that sends it. Table `herald_digests`.
public final class PostgresDigestStore: DigestStore, @unchecked Sendable {
    private let pool: PostgresPool
    private let worker: String
    private let lease: Duration

    /// The store in `pool`'s database, migrated; `worker` leases due digests for `lease`.
    public init(pool: PostgresPool, worker: String, lease: Duration) throws {
        self.pool = pool
        self.worker = worker
        self.lease = lease
        try pool.migrate([("digests-1", """
            CREATE TABLE herald_digests (
                id TEXT PRIMARY KEY,
                template TEXT NOT NULL,
                key TEXT NOT NULL,
                due_at DOUBLE PRECISION NOT NULL,
                full_at DOUBLE PRECISION,
                digest JSONB NOT NULL,
                lease_owner TEXT,
                lease_until TIMESTAMPTZ
            );
            CREATE INDEX herald_digests_open ON herald_digests (template, key);
            """)])
    }

    public func add(_ item: DigestItem, template: String, key: String, now: Date, window: Duration, max: Int) async throws -> Digest {
        try await pool.inTransaction { session in
            try await session.run("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", [template, key])
            let open = try await session.rows("""
                SELECT digest::text FROM herald_digests WHERE template = $1 AND key = $2 AND due_at > $3 ORDER BY due_at DESC LIMIT 1
                """, [template, key, now.timeIntervalSince1970]).first
                .map { try PostgresJSON.decode(Digest.self, from: $0.decode(String.self)) }
                .flatMap { $0.items.count < max ? $0 : nil }
            let digest = Self.adding(item, to: open, template: template, key: key, now: now, window: window, max: max)
            try await session.run("""
                INSERT INTO herald_digests (id, template, key, due_at, digest) VALUES ($1, $2, $3, $4, $5::jsonb)
                ON CONFLICT (id) DO UPDATE SET due_at = excluded.due_at, digest = excluded.digest
                """, [digest.id, template, key, digest.dueAt.timeIntervalSince1970, try PostgresJSON.encode(digest)])
            return digest
        }
    }

    public func due(at now: Date) async throws -> [Digest] {
        try await pool.connection { session in
            try await session.rows("""
                UPDATE herald_digests SET lease_owner = $2, lease_until = clock_timestamp() + make_interval(secs => $3)
                WHERE id IN (SELECT id FROM herald_digests WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until < clock_timestamp())
                             ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
                RETURNING digest::text
                """, [now.timeIntervalSince1970, worker, lease.seconds])
                .map { try PostgresJSON.decode(Digest.self, from: $0.decode(String.self)) }
                .sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }
        }
    }

    public func remove(_ id: String) async throws {
        try await pool.connection { session in
            try await session.run("DELETE FROM herald_digests WHERE id = $1", [id])
        }
    }
}
