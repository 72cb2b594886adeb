import Foundation
import Synchronization
import HeraldCore
import PostgresNIO

/// Sends recorded as they happen, for every worker: `herald_sent`, one row per message a provider
/// accepted, written in groups (`unnest`, one statement a group) while the chunk is in hand.
/// Rows whose message the ledger holds are pruned after an hour.
public final class PostgresSendProgress: SendProgressStore, Sendable {
    private let pool: PostgresPool
    private let lastPrune = Mutex(Date.distantPast)
    /// Least time between two prunes by this process.
    let pruneEvery: TimeInterval = 300

    /// The store in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("sent-1", """
            CREATE TABLE herald_sent (
                message_id TEXT PRIMARY KEY,
                batch TEXT NOT NULL,
                file TEXT NOT NULL,
                row INTEGER NOT NULL,
                channel TEXT NOT NULL,
                account TEXT NOT NULL,
                template TEXT NOT NULL,
                category TEXT NOT NULL,
                transport TEXT NOT NULL,
                provider_id TEXT,
                worker TEXT NOT NULL,
                sent_at TIMESTAMPTZ NOT NULL
            );
            CREATE INDEX herald_sent_at ON herald_sent (sent_at);
            """)])
    }

    public func record(_ sends: [SharedSend]) throws {
        guard !sends.isEmpty else { return }
        var ids: [String] = [], batches: [String] = [], files: [String] = [], rows: [Int] = [], channels: [String] = []
        var accounts: [String] = [], templates: [String] = [], categories: [String] = [], transports: [String] = []
        var providerIDs: [String] = [], workers: [String] = [], times: [Double] = []
        for shared in sends {
            let send = shared.send
            ids.append(send.id.value)
            batches.append(send.batch)
            files.append(send.file)
            rows.append(send.row)
            channels.append(send.channel.rawValue)
            accounts.append(send.account)
            templates.append(send.template)
            categories.append(send.category.rawValue)
            transports.append(send.transport)
            providerIDs.append(send.providerID ?? "")
            workers.append(shared.worker)
            times.append(shared.at.timeIntervalSince1970)
        }
        try pool.withSession { session in
            try session.execute("""
                INSERT INTO herald_sent (message_id, batch, file, row, channel, account, template, category, transport,
                                         provider_id, worker, sent_at)
                SELECT id, batch, file, row, channel, account, template, category, transport, NULLIF(provider, ''), worker, to_timestamp(at)
                FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::text[], $8::text[],
                            $9::text[], $10::text[], $11::text[], $12::float8[])
                     AS x(id, batch, file, row, channel, account, template, category, transport, provider, worker, at)
                ON CONFLICT (message_id) DO NOTHING
                """, [ids, batches, files, rows, channels, accounts, templates, categories, transports, providerIDs, workers, times])
        }
    }

    public func sends(of ids: [MessageID]) async throws -> [MessageID: SharedSend] {
        guard !ids.isEmpty else { return [:] }
        return try await pool.connection { session in
            var found: [MessageID: SharedSend] = [:]
            let rows = try await session.rows("""
                SELECT message_id, batch, file, row, channel, account, template, category, transport, provider_id, worker,
                       extract(epoch FROM sent_at)::float8
                FROM herald_sent WHERE message_id = ANY($1)
                """, [ids.map(\.value)])
            for row in rows {
                let (id, batch, file, number, channel, account, template, category, transport, providerID, worker, at) =
                    try row.decode((String, String, String, Int, String, String, String, String, String, String?, String, Double).self)
                guard let channel = Channel(rawValue: channel), let category = TemplateCategory(rawValue: category) else { continue }
                let send = SendJournal.Send(id: MessageID(id), batch: batch, file: file, row: number, channel: channel, account: account,
                                            template: template, category: category, transport: transport, providerID: providerID)
                found[send.id] = SharedSend(send: send, worker: worker, at: Date(timeIntervalSince1970: at))
            }
            return found
        }
    }

    /// Prunes at most every five minutes per process; returns 0 when it skipped.
    public func prune(recordedBefore date: Date) async throws -> Int {
        let due = lastPrune.withLock { lastPrune -> Bool in
            guard Date().timeIntervalSince(lastPrune) >= pruneEvery else { return false }
            lastPrune = Date()
            return true
        }
        guard due else { return 0 }
        return try await pool.connection { session in
            try await session.run("""
                DELETE FROM herald_sent s USING herald_ledger l
                WHERE s.message_id = l.message_id AND s.sent_at < to_timestamp($1)
                """, [date.timeIntervalSince1970])
        }
    }
}
