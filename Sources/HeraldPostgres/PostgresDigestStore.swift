import Foundation
import HeraldCore
import PostgresNIO

/// Digests in PostgreSQL, so rows of one key that arrive on different workers fold into one
/// digest. A row is added under an advisory lock on (template, key), as one row of
/// `herald_digest_items` (an insert, whatever the digest holds already); `herald_digests` keeps
/// each digest's header, its count and when it is due. A due digest is leased to the worker that
/// sends it.
public final class PostgresDigestStore: DigestStore, Sendable {
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
            """),
            // Rows in a table of their own: adding one no longer rewrites the whole digest.
            ("digests-2", """
            CREATE TABLE herald_digest_items (
                digest_id TEXT NOT NULL, batch TEXT NOT NULL, row INTEGER NOT NULL, seq BIGSERIAL, item JSONB NOT NULL,
                PRIMARY KEY (digest_id, batch, row)
            );
            ALTER TABLE herald_digests ADD COLUMN count INTEGER NOT NULL DEFAULT 0;
            INSERT INTO herald_digest_items (digest_id, batch, row, item)
                SELECT d.id, x.i->>'batch', (x.i->'row'->>'row')::int, x.i
                FROM herald_digests d, jsonb_array_elements(d.digest->'items') WITH ORDINALITY AS x(i, n)
                ORDER BY d.id, x.n
                ON CONFLICT DO NOTHING;
            UPDATE herald_digests SET count = jsonb_array_length(digest->'items'), digest = jsonb_set(digest, '{items}', '[]'::jsonb);
            """),
        ])
    }

    public func add(_ item: DigestItem, template: String, key: String, now: Date, window: Duration, max: Int) async throws -> DigestPlace {
        try await pool.inTransaction { session in
            try await session.run("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", [template, key])
            var id = try await session.rows("""
                SELECT id FROM herald_digests WHERE template = $1 AND key = $2 AND due_at > $3 AND count < $4
                ORDER BY due_at DESC LIMIT 1
                """, [template, key, now.timeIntervalSince1970, max]).first?.decode(String.self)
            if id == nil {
                let header = Digest(id: Digest.id(template: template, key: key, first: item), template: template, key: key,
                                    openedAt: now, dueAt: now.addingTimeInterval(window.seconds), items: [])
                try await session.run("""
                    INSERT INTO herald_digests (id, template, key, due_at, digest) VALUES ($1, $2, $3, $4, $5::jsonb)
                    ON CONFLICT (id) DO NOTHING
                    """, [header.id, template, key, header.dueAt.timeIntervalSince1970, try PostgresJSON.encode(header)])
                id = header.id
            }
            guard let id else { throw PostgresStoreError("no digest for \(template)") }
            let inserted = try await session.run("""
                INSERT INTO herald_digest_items (digest_id, batch, row, item) VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING
                """, [id, item.batch, item.row.row, try PostgresJSON.encode(item)])
            let counted = inserted > 0 ? "count + 1" : "count"
            guard let row = try await session.rows("""
                UPDATE herald_digests SET count = \(counted),
                    due_at = CASE WHEN \(counted) >= $2 THEN LEAST(due_at, $3) ELSE due_at END
                WHERE id = $1 RETURNING count, due_at
                """, [id, max, now.timeIntervalSince1970]).first else {
                throw PostgresStoreError("digest \(id) went away while a row was added")
            }
            let (count, due) = try row.decode((Int, Double).self)
            return DigestPlace(id: id, count: count, dueAt: Date(timeIntervalSince1970: due))
        }
    }

    public func due(at now: Date) async throws -> [Digest] {
        try await pool.connection { session in
            var digests = try await session.rows("""
                UPDATE herald_digests SET lease_owner = $2, lease_until = clock_timestamp() + make_interval(secs => $3)
                WHERE id IN (SELECT id FROM herald_digests WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until < clock_timestamp())
                             ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED)
                RETURNING digest::text, due_at
                """, [now.timeIntervalSince1970, worker, lease.seconds])
                .map { row in
                    let (text, due) = try row.decode((String, Double).self)
                    var digest = try PostgresJSON.decode(Digest.self, from: text)
                    digest.dueAt = Date(timeIntervalSince1970: due)
                    return digest
                }
            guard !digests.isEmpty else { return [] }
            var items: [String: [DigestItem]] = [:]
            for row in try await session.rows("""
                SELECT digest_id, item::text FROM herald_digest_items WHERE digest_id = ANY($1) ORDER BY seq
                """, [digests.map(\.id)]) {
                let (id, text) = try row.decode((String, String).self)
                items[id, default: []].append(try PostgresJSON.decode(DigestItem.self, from: text))
            }
            for index in digests.indices { digests[index].items = items[digests[index].id] ?? [] }
            return digests.sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }
        }
    }

    public func remove(_ id: String) async throws {
        try await pool.inTransaction { session in
            try await session.run("DELETE FROM herald_digest_items WHERE digest_id = $1", [id])
            try await session.run("DELETE FROM herald_digests WHERE id = $1", [id])
        }
    }
}
