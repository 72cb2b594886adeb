import Foundation
import Synchronization
import GRDB
import GRDBSQLite
import HeraldCore

/// The ledger in `outbox/herald.sqlite` (WAL mode), created and migrated on open.
///
/// Schema (stable; other tools may read it): `batches(id, batch, created_at, file)` and
/// `ledger(message_id TEXT PRIMARY KEY, batch_id → batches.id, row, channel, template, status,
/// attempt, provider_id, error_code, error_message, updated_at, fingerprint)`, indexed by batch;
/// `ledger_state(key, value)` notes a rebuild from the logs.
public final class SQLiteLedger: Ledger, Sendable {
    /// The workspace database it lives in.
    public let workspaceDatabase: WorkspaceDatabase
    /// The connection pool (for tests and tools that read the schema).
    public var database: DatabasePool { workspaceDatabase.pool }

    /// Stores the 站内信 recorded with entries, in the same transaction.
    private let siteMessages: (any SiteMessageWriter<SQLiteTransaction>)?

    /// The ledger in `database`, its tables created or migrated; `siteMessages` stores the
    /// 站内信 recorded with entries.
    public init(database: WorkspaceDatabase, siteMessages: (any SiteMessageWriter<SQLiteTransaction>)? = nil) throws {
        workspaceDatabase = database
        self.siteMessages = siteMessages
        try database.migrate(Self.migrations)
    }

    /// Opens (creating if needed) the workspace database at `url` and the ledger in it.
    public convenience init(url: URL) throws {
        try self.init(database: WorkspaceDatabase(url: url))
    }

    /// This store's migrations, in order (identifiers are global to the database file).
    static let migrations: [(identifier: String, sql: String)] = [
        ("1-ledger", """
            CREATE TABLE batches (
                id INTEGER PRIMARY KEY,
                batch TEXT NOT NULL UNIQUE,
                created_at TEXT NOT NULL
            );
            CREATE TABLE ledger (
                message_id TEXT PRIMARY KEY NOT NULL,
                batch_id INTEGER NOT NULL REFERENCES batches(id),
                row INTEGER NOT NULL,
                channel TEXT,
                template TEXT,
                status TEXT NOT NULL,
                attempt INTEGER NOT NULL DEFAULT 1,
                provider_id TEXT,
                error_code TEXT,
                error_message TEXT,
                updated_at TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX ledger_batch ON ledger(batch_id);
            """),
        ("4-provider-ids", "CREATE INDEX ledger_provider ON ledger(provider_id) WHERE provider_id IS NOT NULL"),
        // What each message sends, so a reused batch id with other content is a conflict, not a duplicate.
        ("6-fingerprints", """
            ALTER TABLE ledger ADD COLUMN fingerprint TEXT;
            ALTER TABLE batches ADD COLUMN file TEXT;
            CREATE TABLE ledger_state (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
            """),
        // Whose message it is: bounces and complaints touch only its recipient, in its tenant.
        ("7-recipients", """
            ALTER TABLE ledger ADD COLUMN tenant TEXT;
            ALTER TABLE ledger ADD COLUMN recipient TEXT;
            """),
    ]

    private let batchIDs = BatchIDCache()

    public func knows(batch: String) async throws -> Bool {
        try await database.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS(SELECT 1 FROM ledger WHERE batch_id = (SELECT id FROM batches WHERE batch = ?))
                """, arguments: [batch]) ?? false
        }
    }

    public func records(of ids: [MessageID]) async throws -> [MessageID: LedgerRecord] {
        guard !ids.isEmpty else { return [:] }
        return try await database.read { db in
            var result: [MessageID: LedgerRecord] = [:]
            for start in stride(from: 0, to: ids.count, by: 500) {
                let slice = ids[start..<min(ids.count, start + 500)]
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                let rows = try Row.fetchAll(db, sql: """
                    SELECT l.message_id, l.status, l.fingerprint, b.file FROM ledger l JOIN batches b ON b.id = l.batch_id
                    WHERE l.message_id IN (\(marks))
                    """, arguments: StatementArguments(slice.map(\.value)))
                for row in rows {
                    if let status = DeliveryStatus(rawValue: row["status"]) {
                        result[MessageID(row["message_id"])] = LedgerRecord(status: status, fingerprint: row["fingerprint"],
                                                                            file: row["file"])
                    }
                }
            }
            return result
        }
    }

    public func isBlank() async throws -> Bool {
        try await database.read { db in
            let any = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM ledger)") ?? false
            let rebuilt = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM ledger_state WHERE key = 'rebuilt_at')") ?? false
            let rebuilding = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM ledger_state WHERE key = 'rebuilding')") ?? false
            return (!any && !rebuilt) || rebuilding
        }
    }

    public func markRebuilding() async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO ledger_state (key, value) VALUES ('rebuilding', '1')")
        }
    }

    public func markRebuilt(at date: Date) async throws {
        try await database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO ledger_state (key, value) VALUES ('rebuilt_at', ?)",
                           arguments: [Timestamp.iso8601(date, timeZone: TimeZone(identifier: "UTC") ?? .current)])
            try db.execute(sql: "DELETE FROM ledger_state WHERE key = 'rebuilding'")
        }
    }


    public func entries(ids: [MessageID], providerIDs: [String]) async throws -> [LedgerEntry] {
        guard !ids.isEmpty || !providerIDs.isEmpty else { return [] }
        return try await database.read { db in
            var found: [String: LedgerEntry] = [:]
            for (column, values) in [("message_id", ids.map(\.value)), ("provider_id", providerIDs)] where !values.isEmpty {
                for start in stride(from: 0, to: values.count, by: 500) {
                    let slice = Array(values[start..<min(values.count, start + 500)])
                    let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                    let rows = try Row.fetchAll(db, sql: """
                        SELECT l.*, b.batch AS batch_name FROM ledger l JOIN batches b ON b.id = l.batch_id WHERE l.\(column) IN (\(marks))
                        """, arguments: StatementArguments(slice))
                    for row in rows {
                        let id: String = row["message_id"]
                        found[id] = LedgerEntry(id: MessageID(id), batch: row["batch_name"], row: row["row"],
                                                channel: (row["channel"] as String?).flatMap(Channel.init(rawValue:)),
                                                template: row["template"],
                                                status: DeliveryStatus(rawValue: row["status"]) ?? .sent, attempt: row["attempt"],
                                                providerID: row["provider_id"], errorCode: (row["error_code"] as String?).map { FailureCode($0) },
                                                errorMessage: row["error_message"], updatedAt: Date(),
                                                tenant: row["tenant"], recipient: row["recipient"])
                    }
                }
            }
            return Array(found.values)
        }
    }

    public func record(_ entries: [LedgerEntry], siteMessages messages: [SiteDelivery]) async throws {
        guard !entries.isEmpty || !messages.isEmpty else { return }
        let siteMessages = siteMessages
        if !messages.isEmpty && siteMessages == nil { throw NoSiteMessageStore() }
        let utc = TimeZone(identifier: "UTC") ?? .current
        try await database.write { db in
            try siteMessages?.deliver(messages, in: SQLiteTransaction(db))
            let statement = try db.cachedStatement(sql: """
                INSERT INTO ledger (message_id, batch_id, row, channel, template, status, attempt, provider_id,
                                    error_code, error_message, updated_at, fingerprint, tenant, recipient)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(message_id) DO UPDATE SET
                    status = excluded.status, attempt = excluded.attempt, provider_id = excluded.provider_id,
                    error_code = excluded.error_code, error_message = excluded.error_message,
                    updated_at = excluded.updated_at, fingerprint = COALESCE(excluded.fingerprint, ledger.fingerprint),
                    tenant = COALESCE(excluded.tenant, ledger.tenant), recipient = COALESCE(excluded.recipient, ledger.recipient)
                """)
            var lastDate: Date?
            var lastStamp = ""
            // Bound and stepped with SQLite's own calls: GRDB's argument arrays were most of a
            // chunk's ledger time.
            let insert = RawStatement(statement.sqliteStatement, connection: db.sqliteConnection)
            for entry in entries {
                if entry.updatedAt != lastDate {
                    lastDate = entry.updatedAt
                    lastStamp = Timestamp.iso8601(entry.updatedAt, timeZone: utc)
                }
                let batch = try batchIDs.id(for: entry.batch, file: entry.file, db: db, stamp: lastStamp)
                insert.bind(1, entry.id.value)
                insert.bind(2, batch)
                insert.bind(3, Int64(entry.row))
                insert.bind(4, entry.channel?.rawValue)
                insert.bind(5, entry.template)
                insert.bind(6, entry.status.rawValue)
                insert.bind(7, Int64(entry.attempt))
                insert.bind(8, entry.providerID)
                insert.bind(9, entry.errorCode?.rawValue)
                insert.bind(10, entry.errorMessage)
                insert.bind(11, lastStamp)
                insert.bind(12, entry.fingerprint)
                insert.bind(13, entry.tenant)
                insert.bind(14, entry.recipient)
                try insert.step()
            }
        }
    }
}

/// Batch name → row id in `batches`, created on first use. Used inside write transactions only.
private final class BatchIDCache: Sendable {
    private let ids = Mutex<[String: Int64]>([:])

    func id(for batch: String, file: String?, db: Database, stamp: String) throws -> Int64 {
        if let id = ids.withLock({ $0[batch] }) { return id }
        // The first file that used a batch id stays its file (an id conflict names it).
        try db.execute(sql: """
            INSERT INTO batches (batch, created_at, file) VALUES (?, ?, ?)
            ON CONFLICT(batch) DO UPDATE SET file = COALESCE(batches.file, excluded.file)
            """, arguments: [batch, stamp, file])

        let id = try Int64.fetchOne(db, sql: "SELECT id FROM batches WHERE batch = ?", arguments: [batch]) ?? 0
        ids.withLock { $0[batch] = id }
        return id
    }
}

/// A prepared statement driven with SQLite's C calls, for inserts in a hot loop. Text is
/// copied by SQLite (`SQLITE_TRANSIENT`); `step` runs it once and resets it for the next row.
struct RawStatement {
    let handle: OpaquePointer
    let connection: OpaquePointer?

    init(_ handle: OpaquePointer, connection: OpaquePointer?) {
        self.handle = handle
        self.connection = connection
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func bind(_ index: Int32, _ text: String?) {
        guard var text else {
            sqlite3_bind_null(handle, index)
            return
        }
        text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                if let base = chars.baseAddress, !chars.isEmpty {
                    _ = sqlite3_bind_text(handle, index, base, Int32(chars.count), Self.transient)
                } else {
                    _ = sqlite3_bind_text(handle, index, "", 0, Self.transient)
                }
            }
        }
    }

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(handle, index, value)
    }

    func step() throws {
        let code = sqlite3_step(handle)
        sqlite3_reset(handle)
        guard code == SQLITE_DONE || code == SQLITE_ROW else {
            let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "SQLite error \(code)"
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
        }
    }
}
