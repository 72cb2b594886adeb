import Foundation
import HeraldCore
import PostgresNIO

/// Receipt pushes received by any `herald serve` replica, as rows of `herald_receipts` until a
/// worker ingests them into the ledger.
public final class PostgresReceiptQueue: ReceiptQueue, Sendable {
    private let pool: PostgresPool

    /// The queue in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("receipts-1", """
            CREATE TABLE herald_receipts (
                id BIGSERIAL PRIMARY KEY, channel TEXT NOT NULL, body BYTEA NOT NULL, received_at TIMESTAMPTZ NOT NULL
            );
            """)])
    }

    public func put(channel: String, body: Data, at: Date) async throws {
        try await pool.connection { session in
            try await session.run("INSERT INTO herald_receipts (channel, body, received_at) VALUES ($1, $2, to_timestamp($3))",
                                [channel, ByteBuffer(bytes: body), at.timeIntervalSince1970])
        }
    }

    public func take(limit: Int, _ handle: (_ channel: String, _ body: Data) async throws -> Void) async throws -> Int {
        try await pool.inTransaction { session in
            let rows = try await session.rows("""
                SELECT id, channel, body FROM herald_receipts ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
                """, [limit])
            var ids: [Int64] = []
            for row in rows {
                let (id, channel, body) = try row.decode((Int64, String, ByteBuffer).self)
                try await handle(channel, Data(buffer: body))
                ids.append(id)
            }
            if !ids.isEmpty { try await session.run("DELETE FROM herald_receipts WHERE id = ANY($1)", [ids]) }
            return ids.count
        }
    }
}
