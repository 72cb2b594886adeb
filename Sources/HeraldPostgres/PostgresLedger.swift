import Foundation
import HeraldCore
import PostgresNIO
import Synchronization

/// The ledger in PostgreSQL, shared by every worker: one row per message, written in one
/// statement per chunk (column arrays through `unnest`), so a chunk costs one round trip.
///
/// Schema: `herald_batches(batch PRIMARY KEY, file, created_at)`, `herald_ledger(message_id
/// PRIMARY KEY, batch, row, channel, template, status, attempt, provider_id, error_code,
/// error_message, updated_at, fingerprint)` indexed by batch and provider id, `herald_state(key, value)`.
public final class PostgresLedger: Ledger, Sendable {
    /// The pool it uses.
    public let pool: PostgresPool
    /// The worker whose writes it records (`worker` column), unless an entry names another.
    public let worker: String?

    /// Stores the 站内信 recorded with entries, in the same transaction.
    private let siteMessages: (any SiteMessageWriter<PostgresTransaction>)?

    /// The ledger in `pool`'s database, migrated; `worker` is kept with the entries it writes;
    /// `siteMessages` stores the 站内信 recorded with entries.
    public init(pool: PostgresPool, worker: String? = nil, siteMessages: (any SiteMessageWriter<PostgresTransaction>)? = nil) throws {
        self.pool = pool
        self.worker = worker
        self.siteMessages = siteMessages
        try pool.migrate(Self.migrations)
    }

    /// This store's migrations.
    static let migrations: [(identifier: String, sql: String)] = [
        ("ledger-1", """
            CREATE TABLE herald_batches (
                batch TEXT PRIMARY KEY,
                file TEXT,
                created_at TIMESTAMPTZ NOT NULL DEFAULT now()
            );
            CREATE TABLE herald_ledger (
                message_id TEXT PRIMARY KEY,
                batch TEXT NOT NULL,
                row INTEGER NOT NULL,
                channel TEXT,
                template TEXT,
                status TEXT NOT NULL,
                attempt INTEGER NOT NULL DEFAULT 1,
                provider_id TEXT,
                error_code TEXT,
                error_message TEXT,
                updated_at TIMESTAMPTZ NOT NULL,
                fingerprint TEXT
            );
            CREATE INDEX herald_ledger_batch ON herald_ledger (batch);
            CREATE INDEX herald_ledger_provider ON herald_ledger (provider_id) WHERE provider_id IS NOT NULL;
            CREATE TABLE herald_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            """),
        ("ledger-2", "ALTER TABLE herald_ledger ADD COLUMN worker TEXT"),
        // Whose message it is: bounces and complaints touch only its recipient, in its tenant.
        ("ledger-3", "ALTER TABLE herald_ledger ADD COLUMN tenant TEXT, ADD COLUMN recipient TEXT"),
    ]

    public func knows(batch: String) async throws -> Bool {
        try await pool.connection { session in
            try await session.rows("SELECT EXISTS (SELECT 1 FROM herald_ledger WHERE batch = $1)", [batch]).first?.decode(Bool.self) ?? false
        }
    }

    public func records(of ids: [MessageID]) async throws -> [MessageID: LedgerRecord] {
        guard !ids.isEmpty else { return [:] }
        return try await pool.connection { session in
            var result: [MessageID: LedgerRecord] = [:]
            let rows = try await session.rows("""
                SELECT l.message_id, l.status, l.fingerprint, b.file, l.worker FROM herald_ledger l
                LEFT JOIN herald_batches b ON b.batch = l.batch WHERE l.message_id = ANY($1)
                """, [ids.map(\.value)])
            for row in rows {
                let (id, status, fingerprint, file, worker) = try row.decode((String, String, String?, String?, String?).self)
                if let status = DeliveryStatus(rawValue: status) {
                    result[MessageID(id)] = LedgerRecord(status: status, fingerprint: fingerprint, file: file, worker: worker)
                }
            }
            return result
        }
    }

    public func isBlank() async throws -> Bool {
        try await pool.connection { session in
            try await session.rows("""
                SELECT (NOT EXISTS (SELECT 1 FROM herald_ledger) AND NOT EXISTS (SELECT 1 FROM herald_state WHERE key = 'rebuilt_at'))
                    OR EXISTS (SELECT 1 FROM herald_state WHERE key = 'rebuilding')
                """).first?.decode(Bool.self) ?? true
        }
    }

    public func markRebuilding() async throws {
        try await pool.connection { session in
            try await session.run("INSERT INTO herald_state (key, value) VALUES ('rebuilding', '1') ON CONFLICT (key) DO NOTHING")
        }
    }

    public func markRebuilt(at date: Date) async throws {
        try await pool.inTransaction { session in
            try await session.run("""
                INSERT INTO herald_state (key, value) VALUES ('rebuilt_at', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """, [Timestamp.iso8601(date, timeZone: TimeZone(identifier: "UTC") ?? .current)])
            try await session.run("DELETE FROM herald_state WHERE key = 'rebuilding'")
        }
    }

    public func entries(ids: [MessageID], providerIDs: [String]) async throws -> [LedgerEntry] {
        guard !ids.isEmpty || !providerIDs.isEmpty else { return [] }
        return try await pool.connection { session in
            let rows = try await session.rows("""
                SELECT message_id, batch, row, channel, template, status, attempt, provider_id, error_code, error_message, updated_at,
                       tenant, recipient
                FROM herald_ledger WHERE message_id = ANY($1) OR provider_id = ANY($2)
                """, [ids.map(\.value), providerIDs])
            return try rows.map { row in
                let (id, batch, number, channel, template, status, attempt, providerID, code, message, updated, tenant, recipient) =
                    try row.decode((String, String, Int, String?, String?, String, Int, String?, String?, String?, Date, String?, String?).self)
                return LedgerEntry(id: MessageID(id), batch: batch, row: number, channel: channel.flatMap(Channel.init(rawValue:)),
                                   template: template, status: DeliveryStatus(rawValue: status) ?? .sent, attempt: attempt,
                                   providerID: providerID, errorCode: code.map { FailureCode($0) }, errorMessage: message, updatedAt: updated,
                                   tenant: tenant, recipient: recipient)
            }
        }
    }

    public func record(_ entries: [LedgerEntry], siteMessages messages: [SiteDelivery]) async throws {
        guard !entries.isEmpty || !messages.isEmpty else { return }
        let worker = worker
        guard !messages.isEmpty else {
            // One statement is a transaction of its own: one round trip instead of four.
            return try await pool.connection { session in try await Self.write(entries, worker: worker, in: session) }
        }
        guard let siteMessages else { throw NoSiteMessageStore() }
        // The inbox store adds its statements to the transaction, which runs them here.
        let transaction = PostgresTransaction()
        try siteMessages.deliver(messages, in: transaction)
        try await pool.inTransaction { session in
            for (sql, binds) in transaction.taken() { try await session.run(sql, binds) }
            try await Self.write(entries, worker: worker, in: session)
        }
    }

    /// Writes `entries` inside an open transaction (the work queue finishes a chunk with it);
    /// entries that name no worker are kept as `worker`'s.
    static func write(_ entries: [LedgerEntry], worker: String? = nil, in session: PostgresSession) async throws {
        guard !entries.isEmpty else { return }
        // One row per id (a later entry wins; a later one without a fingerprint keeps the earlier
        // fingerprint), as one statement cannot touch a row twice.
        var merged: [MessageID: LedgerEntry] = [:]
        var order: [MessageID] = []
        for entry in entries {
            if let earlier = merged[entry.id] {
                var entry = entry
                if entry.fingerprint == nil { entry.fingerprint = earlier.fingerprint }
                if entry.file == nil { entry.file = earlier.file }
                if entry.tenant == nil { entry.tenant = earlier.tenant }
                if entry.recipient == nil { entry.recipient = earlier.recipient }
                merged[entry.id] = entry
            } else {
                merged[entry.id] = entry
                order.append(entry.id)
            }
        }
        // Column arrays bound in PostgreSQL's binary format and taken apart by unnest: no JSON to
        // build or parse. Arrays cannot hold NULL here, so an absent text is '' and NULLIF puts it back.
        let rows = order.compactMap { merged[$0] }
        var files: [String: String] = [:]
        for entry in rows where files[entry.batch] == nil || files[entry.batch] == "" { files[entry.batch] = entry.file ?? "" }
        // The batches and the ledger rows in one statement (a data-modifying WITH), so a chunk
        // without 站内信 costs one round trip.
        try await session.run("""
            WITH batches AS (
                INSERT INTO herald_batches (batch, file)
                SELECT batch, NULLIF(file, '') FROM unnest($16::text[], $17::text[]) AS b(batch, file)
                ON CONFLICT (batch) DO UPDATE SET file = COALESCE(herald_batches.file, excluded.file) WHERE herald_batches.file IS NULL
            )
            INSERT INTO herald_ledger (message_id, batch, row, channel, template, status, attempt, provider_id,
                                       error_code, error_message, updated_at, fingerprint, worker, tenant, recipient)
            SELECT id, batch, row, NULLIF(channel, ''), NULLIF(template, ''), status, attempt, NULLIF(provider, ''),
                   NULLIF(code, ''), NULLIF(message, ''), to_timestamp(at), NULLIF(fingerprint, ''), NULLIF(worker, ''),
                   NULLIF(tenant, ''), NULLIF(recipient, '')
            FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::text[],
                        $9::text[], $10::text[], $11::float8[], $12::text[], $13::text[], $14::text[], $15::text[])
                 AS x(id, batch, row, channel, template, status, attempt, provider, code, message, at, fingerprint, worker, tenant, recipient)
            ON CONFLICT (message_id) DO UPDATE SET
                status = excluded.status, attempt = excluded.attempt, provider_id = excluded.provider_id,
                error_code = excluded.error_code, error_message = excluded.error_message, updated_at = excluded.updated_at,
                fingerprint = COALESCE(excluded.fingerprint, herald_ledger.fingerprint),
                worker = COALESCE(excluded.worker, herald_ledger.worker),
                tenant = COALESCE(excluded.tenant, herald_ledger.tenant), recipient = COALESCE(excluded.recipient, herald_ledger.recipient)
            """, [rows.map(\.id.value), rows.map(\.batch), rows.map(\.row), rows.map { $0.channel?.rawValue ?? "" },
                  rows.map { $0.template ?? "" }, rows.map(\.status.rawValue), rows.map(\.attempt), rows.map { $0.providerID ?? "" },
                  rows.map { $0.errorCode?.rawValue ?? "" }, rows.map { $0.errorMessage ?? "" }, rows.map(\.updatedAt.timeIntervalSince1970),
                  rows.map { $0.fingerprint ?? "" }, rows.map { $0.worker ?? worker ?? "" },
                  rows.map { $0.tenant ?? "" }, rows.map { $0.recipient ?? "" }, Array(files.keys), Array(files.values)])
    }
}

/// A ledger write's transaction as the other PostgreSQL stores see it: the statements they add,
/// which the ledger runs, in order, in its transaction before its own rows.
public final class PostgresTransaction: StoreTransaction, Sendable {
    private let statements = Mutex<[(sql: String, binds: [(any PostgresEncodable & Sendable)?])]>([])

    init() {}

    /// Adds `sql` with its binds.
    public func add(_ sql: String, _ binds: [(any PostgresEncodable & Sendable)?]) {
        statements.withLock { $0.append((sql, binds)) }
    }

    /// Every statement added, in order; the list is empty after.
    func taken() -> [(sql: String, binds: [(any PostgresEncodable)?])] {
        statements.withLock { statements in
            defer { statements = [] }
            return statements.map { ($0.sql, $0.binds.map { $0 as (any PostgresEncodable)? }) }
        }
    }
}

/// Codable values as JSON text in rows (`jsonb` columns), written as Core stores them.
enum PostgresJSON {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder.stored.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        try JSONDecoder.stored.decode(type, from: Data(text.utf8))
    }
}
