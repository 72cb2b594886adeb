import Foundation
import HeraldCore
import HeraldInbox
import PostgresNIO

/// 站内信 and 系统公告 in PostgreSQL, shared by every `herald serve` replica and worker: a read
/// on one replica is what the next request on another sees. Same tables and meaning as
/// `SQLiteInboxStore` (prefixed `herald_`); the record stage delivers inside the ledger's transaction.
public final class PostgresInboxStore: InboxStore, SiteMessageStore, SiteMessageWriter, Sendable {
    private let pool: PostgresPool

    /// The inbox in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("inbox-1", """
            CREATE TABLE herald_site_messages (
                id BIGSERIAL PRIMARY KEY,
                message_id TEXT UNIQUE,
                tenant_id TEXT NOT NULL DEFAULT '0',
                user_id TEXT NOT NULL,
                user_type TEXT,
                template TEXT NOT NULL,
                nickname TEXT,
                content TEXT NOT NULL,
                type TEXT NOT NULL,
                params JSONB NOT NULL DEFAULT '{}',
                is_read BOOLEAN NOT NULL DEFAULT false,
                read_at TIMESTAMPTZ,
                created_at TIMESTAMPTZ NOT NULL,
                archived BOOLEAN NOT NULL DEFAULT false,
                deleted BOOLEAN NOT NULL DEFAULT false
            );
            CREATE INDEX herald_site_messages_unread ON herald_site_messages (tenant_id, user_id, is_read);
            CREATE INDEX herald_site_messages_created ON herald_site_messages (tenant_id, user_id, created_at);
            CREATE TABLE herald_notices (
                id BIGSERIAL PRIMARY KEY,
                tenant_id TEXT NOT NULL DEFAULT '0',
                title TEXT NOT NULL,
                content TEXT NOT NULL,
                type TEXT NOT NULL,
                starts_at TIMESTAMPTZ,
                ends_at TIMESTAMPTZ,
                created_at TIMESTAMPTZ NOT NULL,
                retracted_at TIMESTAMPTZ
            );
            CREATE INDEX herald_notices_tenant ON herald_notices (tenant_id, retracted_at);
            CREATE TABLE herald_notice_reads (
                notice_id BIGINT NOT NULL REFERENCES herald_notices (id),
                user_id TEXT NOT NULL,
                read_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (notice_id, user_id)
            );
            """), Self.eventsMigration])
    }

    /// The change log for live clients, written by triggers (as in the SQLite store).
    static let eventsMigration = (identifier: "inbox-events-1", sql: """
        CREATE TABLE herald_inbox_events (
            seq BIGSERIAL PRIMARY KEY, tenant_id TEXT NOT NULL, user_id TEXT, kind TEXT NOT NULL, ref BIGINT NOT NULL
        );
        CREATE FUNCTION herald_inbox_event() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_TABLE_NAME = 'herald_site_messages' THEN
                INSERT INTO herald_inbox_events (tenant_id, user_id, kind, ref)
                VALUES (NEW.tenant_id, NEW.user_id, CASE WHEN TG_OP = 'INSERT' THEN 'message' ELSE 'changed' END, NEW.id);
            ELSIF TG_TABLE_NAME = 'herald_notices' THEN
                INSERT INTO herald_inbox_events (tenant_id, user_id, kind, ref)
                VALUES (NEW.tenant_id, NULL, CASE WHEN TG_OP = 'INSERT' THEN 'notice' ELSE 'changed' END, NEW.id);
            ELSE
                INSERT INTO herald_inbox_events (tenant_id, user_id, kind, ref)
                SELECT tenant_id, NEW.user_id, 'changed', NEW.notice_id FROM herald_notices WHERE id = NEW.notice_id;
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER herald_inbox_events_message AFTER INSERT ON herald_site_messages FOR EACH ROW EXECUTE FUNCTION herald_inbox_event();
        CREATE TRIGGER herald_inbox_events_message_changed AFTER UPDATE OF is_read, archived, deleted ON herald_site_messages
            FOR EACH ROW EXECUTE FUNCTION herald_inbox_event();
        CREATE TRIGGER herald_inbox_events_notice AFTER INSERT OR UPDATE OF retracted_at ON herald_notices
            FOR EACH ROW EXECUTE FUNCTION herald_inbox_event();
        CREATE TRIGGER herald_inbox_events_notice_read AFTER INSERT ON herald_notice_reads FOR EACH ROW EXECUTE FUNCTION herald_inbox_event();
        """)

    public func events(after id: Int64, tenant: String?, user: String?, limit: Int) async throws -> [InboxEvent] {
        try await pool.connection { session in
            try await session.rows("""
                SELECT e.seq, e.tenant_id, e.user_id, e.kind, e.ref, m.template, m.nickname, m.content, m.type, m.is_read,
                       extract(epoch FROM m.read_at)::float8, extract(epoch FROM m.created_at)::float8,
                       n.title, n.content, n.type, extract(epoch FROM COALESCE(n.starts_at, n.created_at))::float8
                FROM herald_inbox_events e
                LEFT JOIN herald_site_messages m ON e.kind = 'message' AND m.id = e.ref
                LEFT JOIN herald_notices n ON e.kind = 'notice' AND n.id = e.ref
                WHERE e.seq > $1 AND ($2::text IS NULL OR e.tenant_id = $2) AND ($3::text IS NULL OR e.user_id = $3 OR e.user_id IS NULL)
                ORDER BY e.seq LIMIT $4
                """, [id, tenant, user, limit]).map { row in
                let (seq, tenant, user, kindText, ref, template, nickname, content, type, isRead, readAt, created,
                     title, noticeContent, noticeType, noticeCreated) =
                    try row.decode((Int64, String, String?, String, Int64, String?, String?, String?, String?, Bool?, Double?, Double?,
                                    String?, String?, String?, Double?).self)
                let kind = InboxEvent.Kind(rawValue: kindText) ?? .changed
                var item: InboxItem?
                if kind == .message, let content {
                    item = InboxItem(id: String(ref), kind: "message", template: template, nickname: nickname, content: content,
                                     type: type ?? "notification", read: isRead ?? false, readAt: readAt.map(Date.init(timeIntervalSince1970:)),
                                     createdAt: Date(timeIntervalSince1970: created ?? 0))
                } else if kind == .notice, let noticeContent {
                    item = InboxItem(id: InboxItemID.notice(ref).description, kind: "announcement", title: title, content: noticeContent, type: noticeType ?? "notice",
                                     read: false, createdAt: Date(timeIntervalSince1970: noticeCreated ?? 0))
                }
                return InboxEvent(id: seq, tenant: tenant, user: user, kind: kind, item: item)
            }
        }
    }

    public func latestEventID() async throws -> Int64 {
        try await pool.connection { session in
            try await session.rows("SELECT COALESCE(max(seq), 0)::int8 FROM herald_inbox_events").first?.decode(Int64.self) ?? 0
        }
    }

    public func deliver(_ messages: [SiteDelivery]) async throws {
        guard !messages.isEmpty else { return }
        let (sql, binds) = insert(messages)
        try await pool.connection { session in try await session.run(sql, binds.map { $0 as (any PostgresEncodable)? }) }
    }

    public func deliver(_ messages: [SiteDelivery], in transaction: PostgresTransaction) throws {
        guard !messages.isEmpty else { return }
        let (sql, binds) = insert(messages)
        transaction.add(sql, binds)
    }

    /// The statement that stores `messages` (one statement: a transaction of its own).
    private func insert(_ messages: [SiteDelivery]) -> (String, [(any PostgresEncodable & Sendable)?]) {
        var rows = JSONRows()
        for message in messages {
            rows.row()
            rows.add("message_id", message.messageID.value)
            rows.add("tenant_id", message.tenantID)
            rows.add("user_id", message.userID)
            rows.add("user_type", message.userType)
            rows.add("template", message.template)
            rows.add("nickname", message.nickname)
            rows.add("content", message.content)
            rows.add("type", message.type)
            rows.add("params", message.parameters)
            rows.add("created_at", message.createdAt.timeIntervalSince1970)
        }
        return ("""
            INSERT INTO herald_site_messages (message_id, tenant_id, user_id, user_type, template, nickname, content, type, params, created_at)
            SELECT message_id, tenant_id, user_id, user_type, template, nickname, content, type, params, to_timestamp(created_at)
            FROM jsonb_to_recordset($1::jsonb) AS x(message_id TEXT, tenant_id TEXT, user_id TEXT, user_type TEXT, template TEXT,
                nickname TEXT, content TEXT, type TEXT, params JSONB, created_at DOUBLE PRECISION)
            ON CONFLICT (message_id) DO NOTHING
            """, [rows.text])
    }

    public func readStates(of ids: [MessageID]) async throws -> [MessageID: Bool] {
        guard !ids.isEmpty else { return [:] }
        return try await pool.connection { session in
            var result: [MessageID: Bool] = [:]
            for row in try await session.rows("SELECT message_id, is_read FROM herald_site_messages WHERE message_id = ANY($1)", [ids.map(\.value)]) {
                let (id, read) = try row.decode((String, Bool).self)
                result[MessageID(id)] = read
            }
            return result
        }
    }

    public func readTimes(of ids: [MessageID]) async throws -> [MessageID: Date?] {
        guard !ids.isEmpty else { return [:] }
        return try await pool.connection { session in
            var result: [MessageID: Date?] = [:]
            for row in try await session.rows("SELECT message_id, extract(epoch FROM read_at)::float8 FROM herald_site_messages WHERE message_id = ANY($1)",
                                         [ids.map(\.value)]) {
                let (id, seconds) = try row.decode((String, Double?).self)
                result[MessageID(id)] = seconds.map(Date.init(timeIntervalSince1970:))
            }
            return result
        }
    }

    /// Active announcements of tenant `$t` at time `$n` (epoch seconds), as a condition on alias `n`.
    private static func activeNotice(tenant t: Int, now n: Int) -> String {
        """
        n.tenant_id = $\(t) AND n.retracted_at IS NULL AND (n.starts_at IS NULL OR n.starts_at <= to_timestamp($\(n)))
        AND (n.ends_at IS NULL OR n.ends_at > to_timestamp($\(n)))
        """
    }

    public func list(tenant: String, user: String, unreadOnly: Bool, page: Int, size: Int, now: Date) async throws -> InboxPage {
        let unreadMessage = unreadOnly ? "AND NOT is_read" : ""
        let unreadNotice = unreadOnly ? "AND r.user_id IS NULL" : ""
        let at = now.timeIntervalSince1970
        return try await pool.connection { session in
            let total = try await session.rows("""
                SELECT (SELECT count(*) FROM herald_site_messages WHERE tenant_id = $1 AND user_id = $2 AND NOT deleted AND NOT archived \(unreadMessage))
                     + (SELECT count(*) FROM herald_notices n LEFT JOIN herald_notice_reads r ON r.notice_id = n.id AND r.user_id = $2
                        WHERE \(Self.activeNotice(tenant: 1, now: 3)) \(unreadNotice))
                """, [tenant, user, at]).first?.decode(Int.self) ?? 0
            let rows = try await session.rows("""
                SELECT kind, id, title, template, nickname, content, type, is_read, read_at, created_at FROM (
                    SELECT 'message' AS kind, id, NULL::text AS title, template, nickname, content, type, is_read,
                           extract(epoch FROM read_at)::float8 AS read_at, extract(epoch FROM created_at)::float8 AS created_at
                    FROM herald_site_messages WHERE tenant_id = $1 AND user_id = $2 AND NOT deleted AND NOT archived \(unreadMessage)
                    UNION ALL
                    SELECT 'announcement', n.id, n.title, NULL, NULL, n.content, n.type, r.user_id IS NOT NULL,
                           extract(epoch FROM r.read_at)::float8, extract(epoch FROM COALESCE(n.starts_at, n.created_at))::float8
                    FROM herald_notices n LEFT JOIN herald_notice_reads r ON r.notice_id = n.id AND r.user_id = $2
                    WHERE \(Self.activeNotice(tenant: 1, now: 3)) \(unreadNotice)
                ) items ORDER BY created_at DESC, kind DESC, id DESC LIMIT $4 OFFSET $5
                """, [tenant, user, at, size, max(0, page - 1) * size])
            let items = try rows.map { row -> InboxItem in
                let (kind, id, title, template, nickname, content, type, read, readAt, createdAt) =
                    try row.decode((String, Int64, String?, String?, String?, String, String, Bool, Double?, Double).self)
                return InboxItem(id: (kind == "message" ? InboxItemID.message(id) : .notice(id)).description, kind: kind, title: title, template: template,
                                 nickname: nickname, content: content, type: type, read: read,
                                 readAt: readAt.map(Date.init(timeIntervalSince1970:)), createdAt: Date(timeIntervalSince1970: createdAt))
            }
            return InboxPage(items: items, total: total, page: page, size: size)
        }
    }

    public func unreadCount(tenant: String, user: String, now: Date) async throws -> Int {
        try await pool.connection { session in
            try await session.rows("""
                SELECT (SELECT count(*) FROM herald_site_messages
                        WHERE tenant_id = $1 AND user_id = $2 AND NOT is_read AND NOT deleted AND NOT archived)
                     + (SELECT count(*) FROM herald_notices n WHERE \(Self.activeNotice(tenant: 1, now: 3))
                        AND NOT EXISTS (SELECT 1 FROM herald_notice_reads r WHERE r.notice_id = n.id AND r.user_id = $2))
                """, [tenant, user, now.timeIntervalSince1970]).first?.decode(Int.self) ?? 0
        }
    }

    /// Splits ids into the user's message row ids and active notice ids, or throws for the first
    /// id that is not theirs.
    private func owned(_ session: PostgresSession, _ ids: [String], tenant: String, user: String, now: Date,
                       noticesAllowed: Bool) async throws -> ([Int64], [Int64]) {
        var messages: [Int64] = []
        var notices: [Int64] = []
        for id in ids {
            let parsed = InboxItemID(id)
            if case let .notice(number)? = parsed {
                guard noticesAllowed else {
                    throw InboxError(message: "\(id) is an announcement; it can be read but not archived or deleted; nothing was changed")
                }
                let exists = try await session.rows("SELECT EXISTS (SELECT 1 FROM herald_notices n WHERE n.id = $2 AND \(Self.activeNotice(tenant: 1, now: 3)))",
                                               [tenant, number, now.timeIntervalSince1970]).first?.decode(Bool.self) ?? false
                guard exists else { throw InboxError.notFound(id, user: user, tenant: tenant) }
                notices.append(number)
            } else if case let .message(number)? = parsed {
                let exists = try await session.rows("""
                    SELECT EXISTS (SELECT 1 FROM herald_site_messages WHERE id = $1 AND tenant_id = $2 AND user_id = $3 AND NOT deleted)
                    """, [number, tenant, user]).first?.decode(Bool.self) ?? false
                guard exists else { throw InboxError.notFound(id, user: user, tenant: tenant) }
                messages.append(number)
            } else {
                throw InboxError.notFound(id, user: user, tenant: tenant)
            }
        }
        return (messages, notices)
    }

    public func markRead(tenant: String, user: String, ids: [String], now: Date) async throws -> Int {
        try await pool.inTransaction { session in
            let (messages, notices) = try await owned(session, ids, tenant: tenant, user: user, now: now, noticesAllowed: true)
            var changed = 0
            if !messages.isEmpty {
                changed += try await session.run("""
                    UPDATE herald_site_messages SET is_read = true, read_at = to_timestamp($1) WHERE id = ANY($2) AND NOT is_read
                    """, [now.timeIntervalSince1970, messages])
            }
            for id in notices {
                changed += try await session.run("""
                    INSERT INTO herald_notice_reads (notice_id, user_id, read_at) VALUES ($1, $2, to_timestamp($3)) ON CONFLICT DO NOTHING
                    """, [id, user, now.timeIntervalSince1970])
            }
            return changed
        }
    }

    public func markAllRead(tenant: String, user: String, now: Date) async throws -> Int {
        try await pool.inTransaction { session in
            var changed = try await session.run("""
                UPDATE herald_site_messages SET is_read = true, read_at = to_timestamp($3)
                WHERE tenant_id = $1 AND user_id = $2 AND NOT is_read AND NOT deleted
                """, [tenant, user, now.timeIntervalSince1970])
            changed += try await session.run("""
                INSERT INTO herald_notice_reads (notice_id, user_id, read_at)
                SELECT n.id, $2, to_timestamp($3) FROM herald_notices n WHERE \(Self.activeNotice(tenant: 1, now: 3))
                AND NOT EXISTS (SELECT 1 FROM herald_notice_reads r WHERE r.notice_id = n.id AND r.user_id = $2)
                """, [tenant, user, now.timeIntervalSince1970])
            return changed
        }
    }

    private func flag(_ column: String, tenant: String, user: String, ids: [String]) async throws -> Int {
        try await pool.inTransaction { session in
            let (messages, _) = try await owned(session, ids, tenant: tenant, user: user, now: Date(), noticesAllowed: false)
            guard !messages.isEmpty else { return 0 }
            return try await session.run("UPDATE herald_site_messages SET \(column) = true WHERE id = ANY($1) AND NOT \(column)", [messages])
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
        return try await pool.connection { session in
            let id = try await session.rows("""
                INSERT INTO herald_notices (tenant_id, title, content, type, starts_at, ends_at, created_at)
                VALUES ($1, $2, $3, $4, to_timestamp($5), to_timestamp($6), to_timestamp($7)) RETURNING id
                """, [notice.tenantID, notice.title, notice.content, notice.type, notice.startsAt?.timeIntervalSince1970,
                      notice.endsAt?.timeIntervalSince1970, notice.createdAt.timeIntervalSince1970]).first?.decode(Int64.self) ?? 0
            var published = notice
            published.id = id
            return published
        }
    }

    public func notices(tenant: String?, includeRetracted: Bool) async throws -> [Notice] {
        try await pool.connection { session in
            try await session.rows("""
                SELECT id, tenant_id, title, content, type, extract(epoch FROM starts_at)::float8, extract(epoch FROM ends_at)::float8,
                       extract(epoch FROM created_at)::float8, extract(epoch FROM retracted_at)::float8
                FROM herald_notices WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2 OR retracted_at IS NULL)
                ORDER BY created_at DESC, id DESC
                """, [tenant, includeRetracted]).map { row in
                let (id, tenant, title, content, type, starts, ends, created, retracted) =
                    try row.decode((Int64, String, String, String, String, Double?, Double?, Double, Double?).self)
                return Notice(id: id, tenantID: tenant, title: title, content: content, type: type,
                              startsAt: starts.map(Date.init(timeIntervalSince1970:)), endsAt: ends.map(Date.init(timeIntervalSince1970:)),
                              createdAt: Date(timeIntervalSince1970: created), retractedAt: retracted.map(Date.init(timeIntervalSince1970:)))
            }
        }
    }

    public func retract(_ id: Int64, now: Date) async throws {
        try await pool.connection { session in
            let changed = try await session.run("UPDATE herald_notices SET retracted_at = to_timestamp($1) WHERE id = $2 AND retracted_at IS NULL",
                                              [now.timeIntervalSince1970, id])
            if changed == 0 { throw InboxError(message: "no active announcement \(id)") }
        }
    }
}
