import Foundation
import HeraldCore
import PostgresNIO

/// The retry spool in PostgreSQL: one row per deferred message with its due time and a `dead`
/// flag, shared by every worker. `due(at:)` claims what it returns for this worker (a lease), so
/// two workers never retry the same message at once; a worker that dies loses its claims when
/// the lease runs out. Table `herald_spool`.
public final class PostgresSpool: Spool, Sendable {
    private let pool: PostgresPool
    private let worker: String
    private let lease: Duration

    /// The spool in `pool`'s database, migrated; `worker` claims entries for `lease`.
    public init(pool: PostgresPool, worker: String, lease: Duration) throws {
        self.pool = pool
        self.worker = worker
        self.lease = lease
        try pool.migrate([("spool-1", """
            CREATE TABLE herald_spool (
                id TEXT PRIMARY KEY,
                entry JSONB NOT NULL,
                priority INTEGER NOT NULL,
                first_seen DOUBLE PRECISION NOT NULL,
                next_attempt TIMESTAMPTZ NOT NULL,
                dead BOOLEAN NOT NULL DEFAULT false,
                lease_owner TEXT,
                lease_until TIMESTAMPTZ
            );
            CREATE INDEX herald_spool_due ON herald_spool (next_attempt) WHERE NOT dead;
            """)])
    }

    public func put(_ entry: SpoolEntry) async throws {
        try await write(entry, dead: false)
    }

    public func bury(_ entry: SpoolEntry) async throws {
        try await write(entry, dead: true)
    }

    private func write(_ entry: SpoolEntry, dead: Bool) async throws {
        let json = try PostgresJSON.encode(entry)
        try await pool.connection { session in
            try await session.run("""
                INSERT INTO herald_spool (id, entry, priority, first_seen, next_attempt, dead)
                VALUES ($1, $2::jsonb, $3, $4, to_timestamp($5), $6)
                ON CONFLICT (id) DO UPDATE SET entry = excluded.entry, priority = excluded.priority, first_seen = excluded.first_seen,
                    next_attempt = excluded.next_attempt, dead = excluded.dead, lease_owner = NULL, lease_until = NULL
                """, [entry.id, json, entry.category.priority, entry.firstSeen.timeIntervalSince1970, entry.nextAttempt.timeIntervalSince1970, dead])
        }
    }

    public func remove(_ id: String) async throws {
        try await pool.connection { session in
            try await session.run("DELETE FROM herald_spool WHERE id = $1 AND NOT dead", [id])
        }
    }

    public func entry(id: String) async throws -> (entry: SpoolEntry, dead: Bool)? {
        try await pool.connection { session in
            try await session.rows("SELECT entry::text, dead FROM herald_spool WHERE id = $1", [id]).first.map { row in
                let (text, dead) = try row.decode((String, Bool).self)
                return (try PostgresJSON.decode(SpoolEntry.self, from: text), dead)
            }
        }
    }

    public func entries(dead: Bool) async throws -> [SpoolEntry] {
        try await pool.connection { session in
            try await session.rows("SELECT entry::text FROM herald_spool WHERE dead = $1 ORDER BY priority, first_seen, id", [dead])
                .map { try PostgresJSON.decode(SpoolEntry.self, from: $0.decode(String.self)) }
        }
    }

    public func due(at now: Date) async throws -> [SpoolEntry] {
        try await pool.connection { session in
            try await session.rows("""
                UPDATE herald_spool SET lease_owner = $2, lease_until = clock_timestamp() + make_interval(secs => $3)
                WHERE id IN (
                    SELECT id FROM herald_spool
                    WHERE NOT dead AND next_attempt <= to_timestamp($1) AND (lease_until IS NULL OR lease_until < clock_timestamp())
                    ORDER BY priority, first_seen, id LIMIT 10000 FOR UPDATE SKIP LOCKED)
                RETURNING entry::text, priority, first_seen, id
                """, [now.timeIntervalSince1970, worker, lease.seconds])
                .map { try PostgresJSON.decode(SpoolEntry.self, from: $0.decode((String, Int, Double, String).self).0) }
                .sorted { ($0.category.priority, $0.firstSeen, $0.id) < ($1.category.priority, $1.firstSeen, $1.id) }
        }
    }

    public func revive(_ ids: [String]?, now: Date) async throws -> [SpoolEntry] {
        try await pool.inTransaction { session in
            let rows = try await session.rows("""
                SELECT entry::text FROM herald_spool WHERE dead AND ($1::text[] IS NULL OR id = ANY($1)) ORDER BY priority, first_seen, id
                FOR UPDATE
                """, [ids])
            var revived: [SpoolEntry] = []
            for row in rows {
                var entry = try PostgresJSON.decode(SpoolEntry.self, from: row.decode(String.self))
                entry.attempts = 0
                entry.nextAttempt = now
                entry.firstSeen = now
                try await session.run("""
                    UPDATE herald_spool SET entry = $2::jsonb, first_seen = $3, next_attempt = to_timestamp($3), dead = false,
                        lease_owner = NULL, lease_until = NULL WHERE id = $1
                    """, [entry.id, try PostgresJSON.encode(entry), now.timeIntervalSince1970])
                revived.append(entry)
            }
            return revived
        }
    }

    public func purgeDead(diedBefore cutoff: Date) async throws -> Int {
        try await pool.connection { session in
            try await session.run("DELETE FROM herald_spool WHERE dead AND next_attempt < to_timestamp($1)", [cutoff.timeIntervalSince1970])
        }
    }
}
