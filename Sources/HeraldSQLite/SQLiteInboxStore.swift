import Foundation
import GRDB
import HeraldCore
import HeraldInbox

/// The inbox in `outbox/herald.sqlite`: the tables `site_messages`, `notices` and
/// `notice_reads`, which this store owns and migrates (see HeraldInbox.docc, the inbox schema).
/// The record stage delivers 站内信 through it inside the ledger's transaction.
public final class SQLiteInboxStore: InboxStore, SiteMessageStore, SiteMessageWriter, Sendable {
    private let database: DatabasePool
    private static let utc = TimeZone(identifier: "UTC") ?? .current

    /// The inbox in the workspace database, its tables created or migrated.
    public init(database: WorkspaceDatabase) throws {
        self.database = database.pool
        try database.migrate(Self.migrations)
    }

    /// Opens (creating if needed) the workspace database at `url` and the inbox in it.
    public convenience init(url: URL) throws {
        try self.init(database: WorkspaceDatabase(url: url))
    }

    /// This store's migrations, in order (identifiers are global to the database file).
    static let migrations: [(identifier: String, sql: String)] = [
        // 站内信 and 系统公告: a stable interface that products may read directly (HeraldInbox.docc/Inbox.md).
        ("3-inbox", """
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
            """),
        // Every change, in order, for live clients; written by triggers, so every writer (a run,
        // serve, the inbox commands, another tool) leaves its trace.
        ("7-inbox-events", """
            CREATE TABLE inbox_events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                tenant_id TEXT NOT NULL,
                user_id TEXT,
                kind TEXT NOT NULL,
                ref INTEGER NOT NULL
            );
            CREATE TRIGGER inbox_events_message AFTER INSERT ON site_messages BEGIN
                INSERT INTO inbox_events (tenant_id, user_id, kind, ref) VALUES (NEW.tenant_id, NEW.user_id, 'message', NEW.id);
            END;
            CREATE TRIGGER inbox_events_message_changed AFTER UPDATE OF is_read, archived, deleted ON site_messages BEGIN
                INSERT INTO inbox_events (tenant_id, user_id, kind, ref) VALUES (NEW.tenant_id, NEW.user_id, 'changed', NEW.id);
            END;
            CREATE TRIGGER inbox_events_notice AFTER INSERT ON notices BEGIN
                INSERT INTO inbox_events (tenant_id, user_id, kind, ref) VALUES (NEW.tenant_id, NULL, 'notice', NEW.id);
            END;
            CREATE TRIGGER inbox_events_notice_retracted AFTER UPDATE OF retracted_at ON notices BEGIN
                INSERT INTO inbox_events (tenant_id, user_id, kind, ref) VALUES (NEW.tenant_id, NULL, 'changed', NEW.id);
            END;
            CREATE TRIGGER inbox_events_notice_read AFTER INSERT ON notice_reads BEGIN
                INSERT INTO inbox_events (tenant_id, user_id, kind, ref)
                SELECT tenant_id, NEW.user_id, 'changed', NEW.notice_id FROM notices WHERE id = NEW.notice_id;
            END;
            """),
    ]

    private static func stamp(_ date: Date) -> String { Timestamp.iso8601(date, timeZone: utc) }

    private static func date(_ text: String?) -> Date? {
        Timestamp.parse(text)
    }

    public func deliver(_ messages: [SiteDelivery]) async throws {
        guard !messages.isEmpty else { return }
        try await database.write { db in try self.deliver(messages, in: SQLiteTransaction(db)) }
    }

    public func deliver(_ messages: [SiteDelivery], in transaction: SQLiteTransaction) throws {
        guard !messages.isEmpty else { return }
        let db = transaction.database
        let insert = try db.cachedStatement(sql: """
            INSERT INTO site_messages (message_id, tenant_id, user_id, user_type, template, nickname, content, type, params, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(message_id) DO NOTHING
            """)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for message in messages {
            let params = String(decoding: (try? encoder.encode(message.parameters)) ?? Data("{}".utf8), as: UTF8.self)
            try insert.execute(arguments: [
                message.messageID.value, message.tenantID, message.userID, message.userType, message.template,
                message.nickname, message.content, message.type, params, Self.stamp(message.createdAt),
            ])
        }
    }

    public func readStates(of ids: [MessageID]) async throws -> [MessageID: Bool] {
        guard !ids.isEmpty else { return [:] }
        return try await database.read { db in
            var result: [MessageID: Bool] = [:]
            for start in stride(from: 0, to: ids.count, by: 500) {
                let slice = ids[start..<min(ids.count, start + 500)]
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                for row in try Row.fetchAll(db, sql: "SELECT message_id, is_read FROM site_messages WHERE message_id IN (\(marks))",
                                            arguments: StatementArguments(slice.map(\.value))) {
                    result[MessageID(row["message_id"])] = row["is_read"]
                }
            }
            return result
        }
    }

    public func readTimes(of ids: [MessageID]) async throws -> [MessageID: Date?] {
        guard !ids.isEmpty else { return [:] }
        return try await database.read { db in
            var result: [MessageID: Date?] = [:]
            for start in stride(from: 0, to: ids.count, by: 500) {
                let slice = ids[start..<min(ids.count, start + 500)]
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                for row in try Row.fetchAll(db, sql: "SELECT message_id, is_read, read_at FROM site_messages WHERE message_id IN (\(marks))",
                                            arguments: StatementArguments(slice.map(\.value))) {
                    let read: Bool = row["is_read"]
                    result[MessageID(row["message_id"])] = read ? Self.date(row["read_at"]) ?? Date(timeIntervalSince1970: 0) : nil
                }
            }
            return result
        }
    }

    public func events(after id: Int64, tenant: String?, user: String?, limit: Int) async throws -> [InboxEvent] {
        try await database.read { db in
            var conditions = ["e.seq > ?"]
            var arguments: StatementArguments = [id]
            if let tenant {
                conditions.append("e.tenant_id = ?")
                arguments += [tenant]
            }
            if let user {
                conditions.append("(e.user_id = ? OR e.user_id IS NULL)")
                arguments += [user]
            }
            arguments += [limit]
            return try Row.fetchAll(db, sql: """
                SELECT e.seq, e.tenant_id, e.user_id, e.kind, e.ref,
                       m.template, m.nickname, m.content AS m_content, m.type AS m_type, m.is_read, m.read_at, m.created_at AS m_created,
                       n.title, n.content AS n_content, n.type AS n_type, COALESCE(n.starts_at, n.created_at) AS n_created
                FROM inbox_events e
                LEFT JOIN site_messages m ON e.kind = 'message' AND m.id = e.ref
                LEFT JOIN notices n ON e.kind = 'notice' AND n.id = e.ref
                WHERE \(conditions.joined(separator: " AND ")) ORDER BY e.seq LIMIT ?
                """, arguments: arguments).map { row in
                let kind = InboxEvent.Kind(rawValue: row["kind"]) ?? .changed
                let ref: Int64 = row["ref"]
                var item: InboxItem?
                if kind == .message, let content: String = row["m_content"] {
                    item = InboxItem(id: String(ref), kind: "message", template: row["template"], nickname: row["nickname"],
                                     content: content, type: row["m_type"], read: row["is_read"], readAt: Self.date(row["read_at"]),
                                     createdAt: Self.date(row["m_created"]) ?? .distantPast)
                } else if kind == .notice, let content: String = row["n_content"] {
                    item = InboxItem(id: InboxItemID.notice(ref).description, kind: "announcement", title: row["title"], content: content, type: row["n_type"],
                                     read: false, createdAt: Self.date(row["n_created"]) ?? .distantPast)
                }
                return InboxEvent(id: row["seq"], tenant: row["tenant_id"], user: row["user_id"], kind: kind, item: item)
            }
        }
    }

    public func latestEventID() async throws -> Int64 {
        try await database.read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM inbox_events") ?? 0 }
    }

    /// Active announcements of `tenant` at `now`, as a SQL condition on alias `n` (arguments: tenant, now, now).
    private static let activeNotice = """
        n.tenant_id = ? AND n.retracted_at IS NULL AND (n.starts_at IS NULL OR n.starts_at <= ?) AND (n.ends_at IS NULL OR n.ends_at > ?)
        """

    public func list(tenant: String, user: String, unreadOnly: Bool, page: Int, size: Int, now: Date) async throws -> InboxPage {
        let now = Self.stamp(now)
        let unreadMessage = unreadOnly ? "AND is_read = 0" : ""
        let unreadNotice = unreadOnly ? "AND r.user_id IS NULL" : ""
        return try await database.read { db in
            let messageCount = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM site_messages WHERE tenant_id = ? AND user_id = ? AND deleted = 0 AND archived = 0 \(unreadMessage)
                """, arguments: [tenant, user]) ?? 0
            let noticeCount = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM notices n LEFT JOIN notice_reads r ON r.notice_id = n.id AND r.user_id = ?
                WHERE \(Self.activeNotice) \(unreadNotice)
                """, arguments: [user, tenant, now, now]) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM (
                    SELECT 'message' AS kind, id, NULL AS title, template, nickname, content, type, is_read, read_at, created_at
                    FROM site_messages WHERE tenant_id = ? AND user_id = ? AND deleted = 0 AND archived = 0 \(unreadMessage)
                    UNION ALL
                    SELECT 'announcement', n.id, n.title, NULL, NULL, n.content, n.type, r.user_id IS NOT NULL, r.read_at,
                           COALESCE(n.starts_at, n.created_at)
                    FROM notices n LEFT JOIN notice_reads r ON r.notice_id = n.id AND r.user_id = ?
                    WHERE \(Self.activeNotice) \(unreadNotice)
                ) ORDER BY created_at DESC, kind DESC, id DESC LIMIT ? OFFSET ?
                """, arguments: [tenant, user, user, tenant, now, now, size, max(0, page - 1) * size])
            let items = rows.map { row -> InboxItem in
                let kind: String = row["kind"]
                let id: Int64 = row["id"]
                return InboxItem(id: (kind == "message" ? InboxItemID.message(id) : .notice(id)).description, kind: kind, title: row["title"],
                                 template: row["template"], nickname: row["nickname"], content: row["content"], type: row["type"],
                                 read: row["is_read"], readAt: Self.date(row["read_at"]),
                                 createdAt: Self.date(row["created_at"]) ?? .distantPast)
            }
            return InboxPage(items: items, total: messageCount + noticeCount, page: page, size: size)
        }
    }

    public func unreadCount(tenant: String, user: String, now: Date) async throws -> Int {
        let now = Self.stamp(now)
        return try await database.read { db in
            let messages = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM site_messages WHERE tenant_id = ? AND user_id = ? AND is_read = 0 AND deleted = 0 AND archived = 0
                """, arguments: [tenant, user]) ?? 0
            let notices = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM notices n WHERE \(Self.activeNotice)
                AND NOT EXISTS (SELECT 1 FROM notice_reads r WHERE r.notice_id = n.id AND r.user_id = ?)
                """, arguments: [tenant, now, now, user]) ?? 0
            return messages + notices
        }
    }

    /// Splits ids into the user's message row ids and active notice ids, or throws for the first
    /// id that is not theirs.
    private func owned(_ db: Database, _ ids: [String], tenant: String, user: String, now: String,
                       noticesAllowed: Bool) throws -> ([Int64], [Int64]) {
        var messages: [Int64] = []
        var notices: [Int64] = []
        for id in ids {
            let parsed = InboxItemID(id)
            if case let .notice(number)? = parsed {
                guard noticesAllowed else {
                    throw InboxError(message: "\(id) is an announcement; it can be read but not archived or deleted; nothing was changed")
                }
                let exists = try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM notices n WHERE n.id = ? AND \(Self.activeNotice))",
                                               arguments: [number, tenant, now, now]) ?? false
                guard exists else { throw InboxError.notFound(id, user: user, tenant: tenant) }
                notices.append(number)
            } else if case let .message(number)? = parsed {
                let exists = try Bool.fetchOne(db, sql: """
                    SELECT EXISTS(SELECT 1 FROM site_messages WHERE id = ? AND tenant_id = ? AND user_id = ? AND deleted = 0)
                    """, arguments: [number, tenant, user]) ?? false
                guard exists else { throw InboxError.notFound(id, user: user, tenant: tenant) }
                messages.append(number)
            } else {
                throw InboxError.notFound(id, user: user, tenant: tenant)
            }
        }
        return (messages, notices)
    }

    public func markRead(tenant: String, user: String, ids: [String], now: Date) async throws -> Int {
        let stamp = Self.stamp(now)
        return try await database.write { db in
            let (messages, notices) = try owned(db, ids, tenant: tenant, user: user, now: stamp, noticesAllowed: true)
            var changed = 0
            for id in messages {
                try db.execute(sql: "UPDATE site_messages SET is_read = 1, read_at = ? WHERE id = ? AND is_read = 0", arguments: [stamp, id])
                changed += db.changesCount
            }
            for id in notices {
                try db.execute(sql: "INSERT INTO notice_reads (notice_id, user_id, read_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                               arguments: [id, user, stamp])
                changed += db.changesCount
            }
            return changed
        }
    }

    public func markAllRead(tenant: String, user: String, now: Date) async throws -> Int {
        let stamp = Self.stamp(now)
        return try await database.write { db in
            try db.execute(sql: """
                UPDATE site_messages SET is_read = 1, read_at = ? WHERE tenant_id = ? AND user_id = ? AND is_read = 0 AND deleted = 0
                """, arguments: [stamp, tenant, user])
            var changed = db.changesCount
            try db.execute(sql: """
                INSERT INTO notice_reads (notice_id, user_id, read_at)
                SELECT n.id, ?, ? FROM notices n WHERE \(Self.activeNotice)
                AND NOT EXISTS (SELECT 1 FROM notice_reads r WHERE r.notice_id = n.id AND r.user_id = ?)
                """, arguments: [user, stamp, tenant, stamp, stamp, user])
            changed += db.changesCount
            return changed
        }
    }

    private func flag(_ column: String, tenant: String, user: String, ids: [String]) async throws -> Int {
        try await database.write { db in
            let (messages, _) = try owned(db, ids, tenant: tenant, user: user, now: Self.stamp(Date()), noticesAllowed: false)
            var changed = 0
            for id in messages {
                try db.execute(sql: "UPDATE site_messages SET \(column) = 1 WHERE id = ? AND \(column) = 0", arguments: [id])
                changed += db.changesCount
            }
            return changed
        }
    }

    public func archive(tenant: String, user: String, ids: [String]) async throws -> Int {
        try await flag("archived", tenant: tenant, user: user, ids: ids)
    }

    public func delete(tenant: String, user: String, ids: [String]) async throws -> Int {
        try await flag("deleted", tenant: tenant, user: user, ids: ids)
    }

    public func publish(_ notice: Notice) async throws -> Notice {
        if let problem = notice.windowProblem { throw InboxError(message: problem) }
        return try await database.write { db in
            try db.execute(sql: """
                INSERT INTO notices (tenant_id, title, content, type, starts_at, ends_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [notice.tenantID, notice.title, notice.content, notice.type, notice.startsAt.map(Self.stamp),
                                 notice.endsAt.map(Self.stamp), Self.stamp(notice.createdAt)])
            var published = notice
            published.id = db.lastInsertedRowID
            return published
        }
    }

    public func notices(tenant: String?, includeRetracted: Bool) async throws -> [Notice] {
        try await database.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let tenant {
                conditions.append("tenant_id = ?")
                arguments += [tenant]
            }
            if !includeRetracted { conditions.append("retracted_at IS NULL") }
            let clause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            return try Row.fetchAll(db, sql: "SELECT * FROM notices \(clause) ORDER BY created_at DESC, id DESC", arguments: arguments).map { row in
                Notice(id: row["id"], tenantID: row["tenant_id"], title: row["title"], content: row["content"], type: row["type"],
                       startsAt: Self.date(row["starts_at"]), endsAt: Self.date(row["ends_at"]),
                       createdAt: Self.date(row["created_at"]) ?? .distantPast, retractedAt: Self.date(row["retracted_at"]))
            }
        }
    }

    public func retract(_ id: Int64, now: Date) async throws {
        try await database.write { db in
            try db.execute(sql: "UPDATE notices SET retracted_at = ? WHERE id = ? AND retracted_at IS NULL", arguments: [Self.stamp(now), id])
            if db.changesCount == 0 { throw InboxError(message: "no active announcement \(id)") }
        }
    }
}
