import Foundation
import Testing
@testable import HeraldCore
import HeraldPostgres
import HeraldTestSupport

/// `digest:`: the store contract (memory, files, PostgreSQL) and the chain with an injected clock.
@Suite(.timeLimit(.minutes(1))) struct DigestTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case memory, file, postgres
        static var allCases: [Kind] { PostgresTestDatabase.url == nil ? [.memory, .file] : [.memory, .file, .postgres] }
        var testDescription: String { rawValue }
    }

    static func store(_ kind: Kind, root: URL) throws -> any DigestStore {
        switch kind {
        case .memory: MemoryDigestStore()
        case .file: FileDigestStore(root: root)
        case .postgres: try PostgresDigestStore(pool: PostgresTestDatabase.pool(), worker: "w1", lease: .seconds(60))
        }
    }

    static func item(_ n: Int, batch: String = "b") -> DigestItem {
        DigestItem(batch: batch, file: "f.csv", row: RecipientRow(row: n, recipient: Recipient(userID: "1"), parameters: ["orderId": "A\(n)"]),
                   text: "订单 A\(n) 已发货")
    }

    @Test(arguments: Kind.allCases)
    func rowsOfAKeyCollectUntilTheWindowClosesOrItIsFull(kind: Kind) async throws {
        let workspace = try TemporaryWorkspace()
        let store = try Self.store(kind, root: workspace.url)
        let window = Duration.seconds(3600)
        let first = try await store.add(Self.item(1), template: "t", key: "1", now: Self.start, window: window, max: 3)
        _ = try await store.add(Self.item(1), template: "t", key: "1", now: Self.start, window: window, max: 3)
        let other = try await store.add(Self.item(9), template: "t", key: "2", now: Self.start, window: window, max: 3)
        let second = try await store.add(Self.item(2), template: "t", key: "1", now: Self.start.addingTimeInterval(60), window: window, max: 3)
        #expect(second.id == first.id && second.items.map(\.row.row) == [1, 2], "the same row twice is kept once")
        #expect(other.id != first.id)
        #expect(second.dueAt == Self.start.addingTimeInterval(3600), "due a window after its first row")
        #expect(try await store.due(at: Self.start.addingTimeInterval(3599)).isEmpty)

        let full = try await store.add(Self.item(3), template: "t", key: "1", now: Self.start.addingTimeInterval(120), window: window, max: 3)
        #expect(full.dueAt == Self.start.addingTimeInterval(120), "full: due at once")
        let next = try await store.add(Self.item(4), template: "t", key: "1", now: Self.start.addingTimeInterval(130), window: window, max: 3)
        #expect(next.id != full.id && next.items.map(\.row.row) == [4], "a full digest takes no more rows")
        let due = try await store.due(at: Self.start.addingTimeInterval(130))
        #expect(due.map(\.id) == [full.id] && due.first?.items.map(\.text) == ["订单 A1 已发货", "订单 A2 已发货", "订单 A3 已发货"])
        try await store.remove(full.id)
        #expect(try await store.due(at: Self.start.addingTimeInterval(4000)).map(\.id).sorted() == [other.id, next.id].sorted())
    }

    @Test func fileDigestsSurviveARestart() throws {
        let workspace = try TemporaryWorkspace()
        _ = try FileDigestStore(root: workspace.url).add(Self.item(1), template: "t", key: "1", now: Self.start, window: .seconds(60), max: 50)
        let reopened = FileDigestStore(root: workspace.url)
        _ = try reopened.add(Self.item(2), template: "t", key: "1", now: Self.start.addingTimeInterval(1), window: .seconds(60), max: 50)
        #expect(try reopened.due(at: Self.start.addingTimeInterval(60)).first?.items.count == 2)
    }

    @Test(.enabled(if: PostgresTestDatabase.url != nil))
    func rowsOfOneKeyOnTwoWorkersFoldIntoOneDigest() async throws {
        let pool = try PostgresTestDatabase.pool(size: 4)
        let a = try PostgresDigestStore(pool: pool, worker: "a", lease: .seconds(60))
        let b = try PostgresDigestStore(pool: pool, worker: "b", lease: .seconds(60))
        await withTaskGroup(of: Void.self) { group in
            for n in 0..<20 {
                group.addTask {
                    _ = try? await (n % 2 == 0 ? a : b).add(Self.item(n + 1), template: "t", key: "1", now: Self.start, window: .seconds(60), max: 50)
                }
            }
        }
        let due = try await a.due(at: Self.start.addingTimeInterval(60))
        #expect(due.count == 1 && due.first?.items.count == 20)
        #expect(try await b.due(at: Self.start.addingTimeInterval(60)).isEmpty, "leased to worker a")
    }

    func run(max: Int = 50) throws -> (WorkspaceRun, MemoryTransport, MemoryEventLog, ManualClock) {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "timezone: Asia/Shanghai\nmail:\n  accounts:\n    default: {transport: file, from: noreply@shop.example.com}\n",
            "templates/shipped.yaml": """
                mail: {account: default, title: "{digest_count} 个订单已发货", text: "{digest_items}"}
                digest: {window: 1h, key: user_id, item: "订单 {orderId} 已发货", separator: "；", max: \(max)}

                """,
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        let clock = ManualClock(start: Self.start)
        let transport = MemoryTransport()
        let log = MemoryEventLog()
        var run = WorkspaceRun(workspace: opened, transports: TransportSet.all(transport, configuration: opened.configuration),
                               ledger: MemoryLedger(), log: log, clock: clock, counters: MemoryRecipientCounters(), spool: MemorySpool())
        run.digests = MemoryDigestStore()
        return (run, transport, log, clock)
    }

    func rows(_ range: ClosedRange<Int>, user: String = "1") -> [RecipientRow] {
        range.map { RecipientRow(row: $0, template: "shipped", recipient: Recipient(userID: user, email: "u\(user)@example.com"),
                                 parameters: ["orderId": "A\($0)"]) }
    }

    @Test func twentyRowsOfOneUserBecomeOneMessageListingTwenty() async throws {
        let (run, transport, log, clock) = try run()
        let folded = try await run.send(rows(1...20), batchID: "b")
        #expect(folded.counts == ["mail": ["digested": 20]])
        #expect(transport.sent.isEmpty)
        let ids = Set(log.events.compactMap(\.digest))
        #expect(ids.count == 1, "every folded row names the one message it went into")

        clock.advance(by: .seconds(3599))
        #expect(try await run.drainDigests().counts.isEmpty, "the window is still open")
        clock.advance(by: .seconds(1))
        let sent = try await run.drainDigests()
        #expect(sent.counts == ["mail": ["sent": 1]])
        let message = try #require(transport.sent.first?.message)
        guard case let .mail(mail) = message.content else { Issue.record("not a mail"); return }
        #expect(mail.subject == "20 个订单已发货")
        #expect(mail.text == (1...20).map { "订单 A\($0) 已发货" }.joined(separator: "；"))
        #expect(log.events.last?.messageID.value == ids.first, "the digest message has the id the rows named")
        #expect(try await run.drainDigests().counts.isEmpty, "sent once")
    }

    @Test func aFullDigestGoesAtOnceAndARowWithoutTheKeyIsInvalid() async throws {
        let (run, transport, log, _) = try run(max: 5)
        var keyless = RecipientRow(row: 7, template: "shipped", recipient: Recipient(email: "x@example.com"), parameters: ["orderId": "X"])
        keyless.row = 7
        let summary = try await run.send(rows(1...6) + [keyless], batchID: "b")
        #expect(summary.counts == ["mail": ["digested": 6, "invalid": 1]])
        #expect(log.events.first { $0.status == .invalid }?.error?.code == "no_digest_key")
        #expect(try await run.drainDigests().counts == ["mail": ["sent": 1]], "five rows filled it; the sixth opened the next")
        guard case let .mail(mail)? = transport.sent.first?.message.content else { Issue.record("no mail"); return }
        #expect(mail.subject == "5 个订单已发货")
    }
}
