import Foundation
import Testing
import HeraldCore
import HeraldInbox
import HeraldPostgres
import HeraldSQLite
import HeraldTestSupport

/// Every query, against the SQLite store (a real file) and its in-memory twin alike.
@Suite(.timeLimit(.minutes(1))) struct InboxStoreTests {
    typealias Kind = StoreKind

    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    final class Fixture: @unchecked Sendable {
        let store: any InboxStore
        let workspace: TemporaryWorkspace

        init(_ kind: Kind) throws {
            workspace = try TemporaryWorkspace()
            switch kind {
            case .sqlite: store = try SQLiteInboxStore(url: workspace.url.appendingPathComponent("outbox/herald.sqlite"))
            case .memory: store = MemoryInboxStore()
            case .postgres: store = try PostgresInboxStore(pool: PostgresTestDatabase.pool())
            }
        }
    }

    static func message(_ n: Int, user: String = "10001", tenant: String = "0", at offset: TimeInterval? = nil) -> SiteDelivery {
        SiteDelivery(messageID: MessageID(String(format: "%032d", n + (Int(tenant) ?? 0) * 100_000 + (Int(user) ?? 0) * 1000)),
                     tenantID: tenant, userID: user, userType: "member", template: "order_shipped", nickname: "商城助手",
                     content: "您的订单 A\(n) 已发货", type: "notification", parameters: ["orderId": "A\(n)"],
                     createdAt: t0.addingTimeInterval(offset ?? TimeInterval(n)))
    }

    @Test(arguments: Kind.allCases)
    func pagesAreNewestFirstWithATotal(kind: Kind) async throws {
        let fixture = try Fixture(kind)
        let store = fixture.store
        defer { withExtendedLifetime(fixture) {} }
        try await store.deliver((1...25).map { Self.message($0) })
        var pages: [InboxPage] = []
        for page in 1...4 {
            pages.append(try await store.list(tenant: "0", user: "10001", unreadOnly: false, page: page, size: 10, now: Self.t0.addingTimeInterval(100)))
        }
        #expect(pages.map(\.items.count) == [10, 10, 5, 0])
        #expect(pages.allSatisfy { $0.total == 25 })
        #expect(pages[0].items.first?.content == "您的订单 A25 已发货")
        #expect(pages[2].items.last?.content == "您的订单 A1 已发货")
        #expect(pages[0].items.first?.nickname == "商城助手")
        #expect(Set(pages.flatMap(\.items).map(\.id)).count == 25, "no item on two pages")
    }

    @Test(arguments: Kind.allCases)
    func tenantsAndUsersNeverSeeEachOthersMessagesOrAnnouncements(kind: Kind) async throws {
        let fixture = try Fixture(kind)
        let store = fixture.store
        defer { withExtendedLifetime(fixture) {} }
        try await store.deliver([Self.message(1, tenant: "1"), Self.message(2, tenant: "2"), Self.message(3, user: "20002", tenant: "1")])
        _ = try await store.publish(Notice(tenantID: "2", title: "维护", content: "今晚维护", createdAt: Self.t0))
        let now = Self.t0.addingTimeInterval(10)
        let a = try await store.list(tenant: "1", user: "10001", unreadOnly: false, page: 1, size: 10, now: now)
        #expect(a.items.map(\.content) == ["您的订单 A1 已发货"])
        #expect(try await store.unreadCount(tenant: "1", user: "10001", now: now) == 1)
        #expect(try await store.unreadCount(tenant: "2", user: "10001", now: now) == 2, "tenant 2: its message and its announcement")
        let other = try #require(a.items.first?.id)
        await #expect(throws: InboxError.self) { try await store.markRead(tenant: "2", user: "10001", ids: [other], now: now) }
    }

    @Test(arguments: Kind.allCases)
    func readingAnotherUsersMessageIsAnErrorAndChangesNothing(kind: Kind) async throws {
        let fixture = try Fixture(kind)
        let store = fixture.store
        defer { withExtendedLifetime(fixture) {} }
        try await store.deliver([Self.message(1), Self.message(2, user: "20002")])
        let now = Self.t0.addingTimeInterval(10)
        let mine = try #require(try await store.list(tenant: "0", user: "10001", unreadOnly: false, page: 1, size: 10, now: now).items.first?.id)
        let theirs = try #require(try await store.list(tenant: "0", user: "20002", unreadOnly: false, page: 1, size: 10, now: now).items.first?.id)
        await #expect(throws: InboxError(message: "no message \(theirs) for user 10001 in tenant 0; nothing was changed")) {
            try await store.markRead(tenant: "0", user: "10001", ids: [mine, theirs], now: now)
        }
        #expect(try await store.unreadCount(tenant: "0", user: "10001", now: now) == 1, "not even the user's own message was marked")
        #expect(try await store.unreadCount(tenant: "0", user: "20002", now: now) == 1)
        #expect(try await store.markRead(tenant: "0", user: "10001", ids: [mine], now: now) == 1)
        #expect(try await store.markRead(tenant: "0", user: "10001", ids: [mine], now: now) == 0, "already read")
    }

    @Test(arguments: Kind.allCases)
    func unreadCountIsUnreadMessagesPlusUnreadActiveAnnouncements(kind: Kind) async throws {
        let fixture = try Fixture(kind)
        let store = fixture.store
        defer { withExtendedLifetime(fixture) {} }
        try await store.deliver((1...3).map { Self.message($0) })
        let now = Self.t0.addingTimeInterval(3600)
        let live = try await store.publish(Notice(title: "新功能上线", content: "欢迎体验", type: "announcement", createdAt: Self.t0))
        _ = try await store.publish(Notice(title: "未来", content: "还没开始", startsAt: now.addingTimeInterval(60), createdAt: Self.t0))
        _ = try await store.publish(Notice(title: "过去", content: "已经结束", endsAt: now.addingTimeInterval(-60), createdAt: Self.t0))
        let retracted = try await store.publish(Notice(title: "撤回", content: "发错了", createdAt: Self.t0))
        try await store.retract(retracted.id, now: now)
        #expect(try await store.unreadCount(tenant: "0", user: "10001", now: now) == 4)
        let listing = try await store.list(tenant: "0", user: "10001", unreadOnly: false, page: 1, size: 10, now: now)
        #expect(listing.total == 4)
        #expect(listing.items.filter { $0.kind == "announcement" }.map(\.title) == ["新功能上线"])
        #expect(try await store.markRead(tenant: "0", user: "10001", ids: ["n\(live.id)"], now: now) == 1)
        #expect(try await store.unreadCount(tenant: "0", user: "10001", now: now) == 3)
        #expect(try await store.unreadCount(tenant: "0", user: "20002", now: now) == 1, "another user's read marker is theirs alone")
        #expect(try await store.list(tenant: "0", user: "10001", unreadOnly: true, page: 1, size: 10, now: now).total == 3)
        #expect(try await store.notices(tenant: "0", includeRetracted: false).count == 3)
        #expect(try await store.notices(tenant: "0", includeRetracted: true).count == 4)
    }

    @Test(arguments: Kind.allCases)
    func readAllTouchesOnlyUnreadRows(kind: Kind) async throws {
        let fixture = try Fixture(kind)
        let store = fixture.store
        defer { withExtendedLifetime(fixture) {} }
        try await store.deliver((1...4).map { Self.message($0) } + [Self.message(5, user: "20002")])
        _ = try await store.publish(Notice(title: "公告", content: "内容", createdAt: Self.t0))
        let first = Self.t0.addingTimeInterval(100), later = Self.t0.addingTimeInterval(200)
        let items = try await store.list(tenant: "0", user: "10001", unreadOnly: false, page: 1, size: 10, now: first).items
        let message = try #require(items.first { $0.kind == "message" })
        _ = try await store.markRead(tenant: "0", user: "10001", ids: [message.id], now: first)
        #expect(try await store.markAllRead(tenant: "0", user: "10001", now: later) == 4, "3 messages and the announcement")
        let after = try await store.list(tenant: "0", user: "10001", unreadOnly: false, page: 1, size: 10, now: later).items
        #expect(after.allSatisfy { $0.read })
        #expect(after.first { $0.id == message.id }?.readAt == first, "an already-read row keeps its read time")
        #expect(try await store.unreadCount(tenant: "0", user: "20002", now: later) == 2)
    }

    @Test(arguments: Kind.allCases)
    func archivedAndSoftDeletedMessagesAreHidden(kind: Kind) async throws {
        let fixture = try Fixture(kind)
        let store = fixture.store
        defer { withExtendedLifetime(fixture) {} }
        try await store.deliver((1...3).map { Self.message($0) })
        let now = Self.t0.addingTimeInterval(100)
        _ = try await store.publish(Notice(title: "公告", content: "内容", createdAt: Self.t0))
        let ids = try await store.list(tenant: "0", user: "10001", unreadOnly: false, page: 1, size: 10, now: now).items.filter { $0.kind == "message" }.map(\.id)
        #expect(try await store.archive(tenant: "0", user: "10001", ids: [ids[0]]) == 1)
        #expect(try await store.delete(tenant: "0", user: "10001", ids: [ids[1]]) == 1)
        let left = try await store.list(tenant: "0", user: "10001", unreadOnly: false, page: 1, size: 10, now: now)
        #expect(left.items.filter { $0.kind == "message" }.map(\.id) == [ids[2]])
        #expect(left.total == 2)
        #expect(try await store.unreadCount(tenant: "0", user: "10001", now: now) == 2)
        await #expect(throws: InboxError.self) { try await store.delete(tenant: "0", user: "10001", ids: ["n1"]) }
        await #expect(throws: InboxError.self) { try await store.markRead(tenant: "0", user: "10001", ids: [ids[1]], now: now) }
    }
}


extension InboxStoreTests {
    @Test(arguments: Kind.allCases)
    func everyChangeIsInTheEventLogInOrderForItsUserAndTenant(kind: Kind) async throws {
        let fixture = try Fixture(kind)
        let store = fixture.store
        let start = try await store.latestEventID()
        try await store.deliver([Self.message(1), Self.message(2, user: "10002"), Self.message(3, tenant: "7")])
        let notice = try await store.publish(Notice(tenantID: "0", title: "维护", content: "今晚", createdAt: Self.t0))
        let first = try #require(try await store.list(tenant: "0", user: "10001", unreadOnly: false, page: 1, size: 10, now: Self.t0.addingTimeInterval(10))
            .items.first { $0.kind == "message" })
        _ = try await store.markRead(tenant: "0", user: "10001", ids: [first.id], now: Self.t0.addingTimeInterval(20))

        let mine = try await store.events(after: start, tenant: "0", user: "10001", limit: 100)
        #expect(mine.map(\.kind) == [.message, .notice, .changed], "\(mine.map(\.kind))")
        #expect(mine.first?.item?.content == "您的订单 A1 已发货" && mine.first?.item?.kind == "message")
        #expect(mine[1].item?.id == "n\(notice.id)" && mine[1].user == nil, "an announcement is for the whole tenant")
        #expect(mine.map(\.id) == mine.map(\.id).sorted() && mine.allSatisfy { $0.id > start })
        #expect(try await store.events(after: start, tenant: "7", user: "10001", limit: 100).map(\.kind) == [.message])
        let all = try await store.events(after: start, tenant: nil, user: nil, limit: 100)
        let latest = try await store.latestEventID()
        #expect(all.count == 5 && all.last?.id == latest)
        #expect(try await store.events(after: all[1].id, tenant: nil, user: nil, limit: 2).map(\.id) == [all[2].id, all[3].id], "resumes after an id")
        withExtendedLifetime(fixture) {}
    }
}

/// The record stage's port into the inbox: 站内信 stored in the ledger's transaction.
@Suite(.timeLimit(.minutes(1))) struct SiteMessageStoreTests {
    /// The stores that share a transaction with their ledger: SQLite and PostgreSQL (when a test server is given).
    static var transactionalKinds: [StoreKind] { StoreKind.allCases.filter { $0 != .memory } }

    /// Delivers through the real store, then fails: the ledger's transaction must roll back both.
    struct Refused: Error {}

    struct RefusingAfterDelivery<Inner: SiteMessageWriter>: SiteMessageWriter {
        let inner: Inner

        func deliver(_ messages: [SiteDelivery], in transaction: Inner.Transaction) throws {
            try inner.deliver(messages, in: transaction)
            throw Refused()
        }
    }

    @Test(arguments: transactionalKinds)
    func messagesDeliveredInTheLedgersTransactionCommitAndRollBackWithIt(kind: StoreKind) async throws {
        let workspace = try TemporaryWorkspace()
        let ledger: any Ledger, refusing: any Ledger
        let inbox: any InboxStore & SiteMessageStore
        if kind == .postgres {
            let pool = try PostgresTestDatabase.pool()
            let store = try PostgresInboxStore(pool: pool)
            ledger = try PostgresLedger(pool: pool, siteMessages: store)
            refusing = try PostgresLedger(pool: pool, siteMessages: RefusingAfterDelivery(inner: store))
            inbox = store
        } else {
            let database = try WorkspaceDatabase(url: WorkspacePaths(root: workspace.url).database)
            let store = try SQLiteInboxStore(database: database)
            ledger = try SQLiteLedger(database: database, siteMessages: store)
            refusing = try SQLiteLedger(database: database, siteMessages: RefusingAfterDelivery(inner: store))
            inbox = store
        }
        let message = InboxStoreTests.message(1)
        let entry = LedgerEntry(id: message.messageID, batch: "b", row: 1, channel: .site, template: "order_shipped", status: .sent,
                                updatedAt: InboxStoreTests.t0)
        await #expect(throws: Refused.self) {
            try await refusing.record([entry], siteMessages: [message])
        }
        #expect(try await inbox.unreadCount(tenant: "0", user: "10001", now: InboxStoreTests.t0) == 0, "rolled back with the ledger")
        #expect(try await ledger.records(of: [entry.id]).isEmpty)

        try await ledger.record([entry], siteMessages: [message])
        try await ledger.record([entry], siteMessages: [message])
        #expect(try await inbox.unreadCount(tenant: "0", user: "10001", now: InboxStoreTests.t0) == 1, "stored once, however often delivered")
        #expect(try await ledger.statuses(of: [entry.id]) == [entry.id: .sent])
    }

    @Test(arguments: StoreKind.allCases)
    func aLedgerWithoutAnInboxRefusesSiteMessagesRatherThanLoseThem(kind: StoreKind) async throws {
        let workspace = try TemporaryWorkspace()
        let ledger: any Ledger = switch kind {
        case .postgres: try PostgresLedger(pool: PostgresTestDatabase.pool())
        case .sqlite: try SQLiteLedger(url: WorkspacePaths(root: workspace.url).database)
        case .memory: MemoryLedger()
        }
        let message = InboxStoreTests.message(1)
        let entry = LedgerEntry(id: message.messageID, batch: "b", row: 1, channel: .site, template: "order_shipped", status: .sent,
                                updatedAt: InboxStoreTests.t0)
        await #expect(throws: NoSiteMessageStore.self) { try await ledger.record([entry], siteMessages: [message]) }
        #expect(try await ledger.records(of: [entry.id]).isEmpty, "nothing recorded: the run fails and the rows are sent again")
    }
}
