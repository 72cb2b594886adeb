import Foundation
import GRDB

/// The ledger in `outbox/herald.sqlite` (WAL mode), created and migrated on open.
///
/// Schema (stable; other tools may read it): `batches(id, batch, created_at, file)` and
/// `ledger(message_id TEXT PRIMARY KEY, batch_id → batches.id, row, channel, template, status,
/// attempt, provider_id, error_code, error_message, updated_at, fingerprint)`, indexed by batch;
/// `ledger_state(key, value)` notes a rebuild from the logs.
public final class SQLiteLedger: Ledger, @unchecked Sendable {
    /// The database, shared with later stores (site messages, counters, tokens).
    public let database: DatabasePool

    /// Opens (creating if needed) the database at `url`.
    public init(url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -16384")
        }
        database = try DatabasePool(path: url.path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    /// A ledger over an already open and migrated database (the inbox store shares it).
    public init(pool: DatabasePool) throws {
        database = pool
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("1-ledger") { db in
            try db.execute(sql: """
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
                """)
        }
        migrator.registerMigration("2-recipient-sends") { db in
            try db.execute(sql: """
                CREATE TABLE recipient_sends (
                    channel TEXT NOT NULL, address TEXT NOT NULL, sent_at REAL NOT NULL, count INTEGER NOT NULL DEFAULT 1,
                    PRIMARY KEY (channel, address, sent_at)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("3-inbox") { db in
            // 站内信 and 系统公告: a stable interface that products may read directly (HeraldInbox.docc/Inbox.md).
            try db.execute(sql: """
                CREATE TABLE site_messages (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    message_id TEXT UNIQUE,
                    tenant_id TEXT NOT NULL DEFAULT '0',
                    user_id TEXT NOT NULL,
                    user_type TEXT,
                    template TEXT NOT NULL,
                    nickname TEXT,
                    content TEXT NOT NULL,
                    type TEXT NOT NULL,
                    params TEXT NOT NULL DEFAULT '{}',
                    is_read INTEGER NOT NULL DEFAULT 0,
                    read_at TEXT,
                    created_at TEXT NOT NULL,
                    archived INTEGER NOT NULL DEFAULT 0,
                    deleted INTEGER NOT NULL DEFAULT 0
                );
                CREATE INDEX site_messages_unread ON site_messages(tenant_id, user_id, is_read);
                CREATE INDEX site_messages_created ON site_messages(tenant_id, user_id, created_at);
                CREATE TABLE notices (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    tenant_id TEXT NOT NULL DEFAULT '0',
                    title TEXT NOT NULL,
                    content TEXT NOT NULL,
                    type TEXT NOT NULL,
                    starts_at TEXT,
                    ends_at TEXT,
                    created_at TEXT NOT NULL,
                    retracted_at TEXT
                );
                CREATE INDEX notices_tenant ON notices(tenant_id, retracted_at);
                CREATE TABLE notice_reads (
                    notice_id INTEGER NOT NULL REFERENCES notices(id),
                    user_id TEXT NOT NULL,
                    read_at TEXT NOT NULL,
                    PRIMARY KEY (notice_id, user_id)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("4-provider-ids") { db in
            try db.execute(sql: "CREATE INDEX ledger_provider ON ledger(provider_id) WHERE provider_id IS NOT NULL")
        }
        migrator.registerMigration("5-access-tokens") { db in
            try db.execute(sql: """
                CREATE TABLE access_tokens (app_id TEXT PRIMARY KEY NOT NULL, token TEXT NOT NULL, expires_at REAL NOT NULL) WITHOUT ROWID
                """)
        }
        migrator.registerMigration("6-fingerprints") { db in
            // What each message sends, so a reused batch id with other content is a conflict, not a duplicate.
            try db.execute(sql: """
                ALTER TABLE ledger ADD COLUMN fingerprint TEXT;
                ALTER TABLE batches ADD COLUMN file TEXT;
                CREATE TABLE ledger_state (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
                """)
        }
        return migrator
    }

    private let batchIDs = BatchIDCache()

    public func knows(batch: String) throws -> Bool {
        try database.read { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS(SELECT 1 FROM ledger WHERE batch_id = (SELECT id FROM batches WHERE batch = ?))
                """, arguments: [batch]) ?? false
        }
    }

    public func records(of ids: [MessageID]) throws -> [MessageID: LedgerRecord] {
        guard !ids.isEmpty else { return [:] }
        return try database.read { db in
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

    public func isBlank() throws -> Bool {
        try database.read { db in
            let any = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM ledger)") ?? false
            let rebuilt = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM ledger_state WHERE key = 'rebuilt_at')") ?? false
            let rebuilding = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM ledger_state WHERE key = 'rebuilding')") ?? false
            return (!any && !rebuilt) || rebuilding
        }
    }

    public func markRebuilding() throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO ledger_state (key, value) VALUES ('rebuilding', '1')")
        }
    }

    public func markRebuilt(at date: Date) throws {
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO ledger_state (key, value) VALUES ('rebuilt_at', ?)",
                           arguments: [Timestamp.iso8601(date, timeZone: TimeZone(identifier: "UTC") ?? .current)])
            try db.execute(sql: "DELETE FROM ledger_state WHERE key = 'rebuilding'")
        }
    }

    public func record(_ entries: [LedgerEntry]) throws {
        try record(entries, siteMessages: [])
    }

    public func entries(ids: [MessageID], providerIDs: [String]) throws -> [LedgerEntry] {
        guard !ids.isEmpty || !providerIDs.isEmpty else { return [] }
        return try database.read { db in
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
                                                providerID: row["provider_id"], errorCode: row["error_code"],
                                                errorMessage: row["error_message"], updatedAt: Date())
                    }
                }
            }
            return Array(found.values)
        }
    }

    public func record(_ entries: [LedgerEntry], siteMessages: [SiteDelivery]) throws {
        guard !entries.isEmpty || !siteMessages.isEmpty else { return }
        let utc = TimeZone(identifier: "UTC") ?? .current
        try database.write { db in
            if !siteMessages.isEmpty {
                let insert = try db.cachedStatement(sql: """
                    INSERT INTO site_messages (message_id, tenant_id, user_id, user_type, template, nickname, content, type, params, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING
                    """)
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                for message in siteMessages {
                    let params = String(decoding: (try? encoder.encode(message.parameters)) ?? Data("{}".utf8), as: UTF8.self)
                    try insert.execute(arguments: [
                        message.messageID.value, message.tenantID, message.userID, message.userType, message.template,
                        message.nickname, message.content, message.type, params, Timestamp.iso8601(message.createdAt, timeZone: utc),
                    ])
                }
            }
            let statement = try db.cachedStatement(sql: """
                INSERT INTO ledger (message_id, batch_id, row, channel, template, status, attempt, provider_id,
                                    error_code, error_message, updated_at, fingerprint)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(message_id) DO UPDATE SET
                    status = excluded.status, attempt = excluded.attempt, provider_id = excluded.provider_id,
                    error_code = excluded.error_code, error_message = excluded.error_message,
                    updated_at = excluded.updated_at, fingerprint = COALESCE(excluded.fingerprint, ledger.fingerprint)
                """)
            var lastDate: Date?
            var lastStamp = ""
            for entry in entries {
                if entry.updatedAt != lastDate {
                    lastDate = entry.updatedAt
                    lastStamp = Timestamp.iso8601(entry.updatedAt, timeZone: utc)
                }
                try statement.execute(arguments: [
                    entry.id.value, try batchIDs.id(for: entry.batch, file: entry.file, db: db, stamp: lastStamp), entry.row,
                    entry.channel?.rawValue, entry.template, entry.status.rawValue, entry.attempt, entry.providerID,
                    entry.errorCode, entry.errorMessage, lastStamp, entry.fingerprint,
                ])
            }
        }
    }
}

/// Batch name → row id in `batches`, created on first use. Used inside write transactions only.
private final class BatchIDCache: @unchecked Sendable {
    private var ids: [String: Int64] = [:]

    func id(for batch: String, file: String?, db: Database, stamp: String) throws -> Int64 {
        if let id = ids[batch] { return id }
        // The first file that used a batch id stays its file (an id conflict names it).
        try db.execute(sql: """
            INSERT INTO batches (batch, created_at, file) VALUES (?, ?, ?)
            ON CONFLICT(batch) DO UPDATE SET file = COALESCE(batches.file, excluded.file)
            """, arguments: [batch, stamp, file])

        let id = try Int64.fetchOne(db, sql: "SELECT id FROM batches WHERE batch = ?", arguments: [batch]) ?? 0
        ids[batch] = id
        return id
    }
}
