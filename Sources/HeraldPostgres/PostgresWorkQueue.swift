import Foundation
import HeraldCore
import PostgresNIO

/// The work queue in PostgreSQL. A batch is claimed by inserting its identity into
/// `herald_batch_claims` (primary key: the batch id), in the same transaction that queues its
/// chunks into `herald_queue`; workers claim chunks with `SELECT … FOR UPDATE SKIP LOCKED`,
/// most urgent category first, and hold them for a lease.
public final class PostgresWorkQueue: WorkQueue, Sendable {
    private let pool: PostgresPool

    /// The queue in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("queue-1", """
            CREATE TABLE herald_batch_claims (
                batch TEXT PRIMARY KEY,
                file TEXT NOT NULL,
                worker TEXT NOT NULL,
                claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                rows INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE herald_queue (
                id BIGSERIAL PRIMARY KEY,
                batch TEXT NOT NULL REFERENCES herald_batch_claims (batch),
                file TEXT NOT NULL,
                priority INTEGER NOT NULL,
                rows INTEGER NOT NULL,
                records JSONB NOT NULL,
                claims INTEGER NOT NULL DEFAULT 0,
                lease_owner TEXT,
                lease_until TIMESTAMPTZ
            );
            CREATE INDEX herald_queue_order ON herald_queue (priority, id);
            """),
            // Records in QueuedRecords' compact form instead of Codable JSON (a third of a worker's CPU).
            ("queue-2", """
            ALTER TABLE herald_queue ADD COLUMN body BYTEA;
            ALTER TABLE herald_queue ALTER COLUMN records DROP NOT NULL
            """),
            // A chunk lives for seconds: compressing it (pglz, the largest server-side cost of
            // queuing) buys nothing. Still stored out of line.
            ("queue-3", "ALTER TABLE herald_queue ALTER COLUMN body SET STORAGE EXTERNAL")])
    }

    public func enqueue(batch: BatchContext, worker: String,
                        next: () throws -> (records: [BatchRecord], priority: Int)?) async throws -> BatchClaim {
        try await pool.inTransaction { session in
            let inserted = try await session.run("""
                INSERT INTO herald_batch_claims (batch, file, worker) VALUES ($1, $2, $3) ON CONFLICT (batch) DO NOTHING
                """, [batch.id, batch.file, worker])
            guard inserted == 1 else {
                let row = try await session.rows("""
                    SELECT worker, file, extract(epoch FROM claimed_at)::float8 FROM herald_batch_claims WHERE batch = $1
                    """, [batch.id]).first
                let (owner, file, at) = try row?.decode((String, String, Double).self) ?? ("?", "?", 0)
                return .takenBefore(worker: owner, file: file, at: Date(timeIntervalSince1970: at))
            }
            var rows = 0, chunks = 0
            // Sixteen chunks to a statement (arrays through unnest): a 100,000-row file is 13 round
            // trips, not 196.
            var priorities: [Int] = [], counts: [Int] = [], bodies: [ByteBuffer] = []
            func flush() async throws {
                guard !bodies.isEmpty else { return }
                try await session.run("""
                    INSERT INTO herald_queue (batch, file, priority, rows, body)
                    SELECT $1, $2, priority, rows, body FROM unnest($3::int8[], $4::int8[], $5::bytea[]) WITH ORDINALITY AS x(priority, rows, body, n)
                    ORDER BY n
                    """, [batch.id, batch.file, priorities, counts, bodies])
                priorities = []
                counts = []
                bodies = []
            }
            while let (records, priority) = try next() {
                priorities.append(priority)
                counts.append(records.count)
                bodies.append(ByteBuffer(bytes: QueuedRecords.encode(records)))
                rows += records.count
                chunks += 1
                if bodies.count == 16 { try await flush() }
            }
            try await flush()
            try await session.run("UPDATE herald_batch_claims SET rows = $2 WHERE batch = $1", [batch.id, rows])
            return .queued(rows: rows, chunks: chunks)
        }
    }

    public func claim(worker: String, lease: Duration) async throws -> QueuedChunk? {
        try await pool.connection { session in
            guard let row = try await session.rows("""
                UPDATE herald_queue SET lease_owner = $1, lease_until = clock_timestamp() + make_interval(secs => $2), claims = claims + 1
                WHERE id = (
                    SELECT id FROM herald_queue WHERE lease_until IS NULL OR lease_until < clock_timestamp()
                    ORDER BY priority, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING id, batch, file, body, records::text, claims
                """, [worker, lease.seconds]).first else { return nil }
            let (id, batch, file, body, json, claims) = try row.decode((Int64, String, String, ByteBuffer?, String?, Int).self)
            // Chunks queued before the compact form are JSON.
            let records = try body.map { try QueuedRecords.decode($0.readableBytesView) }
                ?? PostgresJSON.decode([BatchRecord].self, from: json ?? "[]")
            return QueuedChunk(id: id, batch: BatchContext(id: batch, file: file), records: records, claims: claims)
        }
    }

    public func renew(_ id: Int64, worker: String, lease: Duration) throws {
        try pool.withSession { session in
            try session.execute("""
                UPDATE herald_queue SET lease_until = clock_timestamp() + make_interval(secs => $3) WHERE id = $1 AND lease_owner = $2
                """, [id, worker, lease.seconds])
        }
    }

    public func release(worker: String) async throws -> Int {
        try await pool.connection { session in
            try await session.run("""
                UPDATE herald_queue SET lease_until = NULL WHERE lease_owner = $1 AND lease_until IS NOT NULL
                """, [worker])
        }
    }

    public func finish(_ id: Int64) async throws {
        try await pool.connection { session in
            try await session.run("DELETE FROM herald_queue WHERE id = $1", [id])
        }
    }

    public func backlog() async throws -> (chunks: Int, rows: Int) {
        try await pool.connection { session in
            try await session.rows("SELECT count(*)::int8, COALESCE(sum(rows), 0)::int8 FROM herald_queue").first?.decode((Int, Int).self) ?? (0, 0)
        }
    }
}
