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
        #expect(second.id == first.id && second.count == 2, "the same row twice is kept once")
        #expect(other.id != first.id)
        #expect(second.dueAt == Self.start.addingTimeInterval(3600), "due a window after its first row")
        #expect(try await store.due(at: Self.start.addingTimeInterval(3599)).isEmpty)

        let full = try await store.add(Self.item(3), template: "t", key: "1", now: Self.start.addingTimeInterval(120), window: window, max: 3)
        #expect(full.dueAt == Self.start.addingTimeInterval(120), "full: due at once")
        let next = try await store.add(Self.item(4), template: "t", key: "1", now: Self.start.addingTimeInterval(130), window: window, max: 3)
        #expect(next.id != full.id && next.count == 1, "a full digest takes no more rows")
        let due = try await store.due(at: Self.start.addingTimeInterval(130))
        #expect(due.map(\.id) == [full.id] && due.first?.items.map(\.text) == ["订单 A1 已发货", "订单 A2 已发货", "订单 A3 已发货"])
        try await store.remove(full.id)
        let rest = try await store.due(at: Self.start.addingTimeInterval(4000))
        #expect(rest.first { $0.id == next.id }?.items.map(\.row.row) == [4])
        #expect(rest.first { $0.id == other.id }?.items.map(\.row.row) == [9])
        #expect(rest.map(\.id).sorted() == [other.id, next.id].sorted())
    }

    @Test func fileDigestsSurviveARestart() throws {
        let workspace = try TemporaryWorkspace()
        _ = try FileDigestStore(root: workspace.url).add(Self.item(1), template: "t", key: "1", now: Self.start, window: .seconds(60), max: 50)
        let reopened = FileDigestStore(root: workspace.url)
        _ = try reopened.add(Self.item(2), template: "t", key: "1", now: Self.start.addingTimeInterval(1), window: .seconds(60), max: 50)
        #expect(try reopened.due(at: Self.start.addingTimeInterval(60)).first?.items.count == 2)
    }

    // Issue 26: each row rewrote the whole digest file (read, decode, encode, fsync), so 10,000
    // rows of one key took 89 s. Now a row is one appended line: the file grows by one line per
    // row and is never rewritten (its inode and earlier bytes stay), a torn last line from a
    // crash is cut off, and a digest file of the earlier format is still read and continued.
    @Test func aRowIsOneAppendedLineNotARewriteOfTheDigest() throws {
        let workspace = try TemporaryWorkspace()
        let store = FileDigestStore(root: workspace.url)
        var sizes: [UInt64] = []
        var inodes = Set<UInt64>()
        let file = WorkspacePaths(root: workspace.url).digests.appendingPathComponent("t.\(MessageID.digest(of: "1")).open.jsonl")
        for n in 1...300 {
            _ = try store.add(Self.item(n), template: "t", key: "1", now: Self.start, window: .seconds(60), max: 10_000)
            var status = stat()
            #expect(stat(file.path, &status) == 0)
            sizes.append(UInt64(status.st_size))
            inodes.insert(UInt64(status.st_ino))
        }
        #expect(inodes.count == 1, "the file is appended to, never replaced")
        let growth = zip(sizes.dropFirst(), sizes).map { $0 - $1 }
        #expect(growth.max()! < 600, "each row adds one line, whatever the digest holds: \(growth.max()!) bytes at most")

        // A crash in the middle of an append leaves half a line: the next run cuts it off.
        let handle = try FileHandle(forWritingTo: file)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"at":1,"item":{"ba"#.utf8))
        try handle.close()
        let place = try FileDigestStore(root: workspace.url).add(Self.item(301), template: "t", key: "1", now: Self.start, window: .seconds(60), max: 10_000)
        #expect(place.count == 301)
        #expect(try store.due(at: Self.start.addingTimeInterval(60)).first?.items.count == 301)

        // The earlier format: one JSON document per open digest.
        let legacy = Digest(id: "digest:legacy", template: "u", key: "7", openedAt: Self.start, dueAt: Self.start.addingTimeInterval(60),
                            items: [Self.item(1), Self.item(2)])
        try JSONEncoder.stored.encode(legacy).write(to: WorkspacePaths(root: workspace.url).digests
            .appendingPathComponent("u.\(MessageID.digest(of: "7")).open.json"))
        let continued = try store.add(Self.item(3), template: "u", key: "7", now: Self.start.addingTimeInterval(1), window: .seconds(60), max: 50)
        #expect(continued.id == "digest:legacy" && continued.count == 3)
        let due = try store.due(at: Self.start.addingTimeInterval(60)).first { $0.id == "digest:legacy" }
        #expect(due?.items.map(\.row.row) == [1, 2, 3])
        try store.remove("digest:legacy")
        #expect(try store.due(at: Self.start.addingTimeInterval(60)).map(\.id) == [place.id])
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

    func run(max: Int = 50) throws -> (RunContext, MemoryTransport, MemoryEventLog, ManualClock) {
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
        let run = RunContext(workspace: opened, transports: TransportSet.all(transport, configuration: opened.configuration),
                             ledger: MemoryLedger(), log: log, clock: clock, counters: MemoryRecipientCounters(), spool: MemorySpool(),
                             digests: MemoryDigestStore())
        return (run, transport, log, clock)
    }

    func rows(_ range: ClosedRange<Int>, user: String = "1") -> [RecipientRow] {
        range.map { RecipientRow(row: $0, template: "shipped", recipient: Recipient(userID: user, email: "u\(user)@example.com"),
                                 parameters: ["orderId": "A\($0)"]) }
    }

    @Test func twentyRowsOfOneUserBecomeOneMessageListingTwenty() async throws {
        let (run, transport, log, clock) = try run()
        let folded = try await OneOffSend(run).send(rows(1...20), batchID: "b")
        #expect(folded.counts == [.channel(.mail): [.status(.digested): 20]])
        #expect(transport.sent.isEmpty)
        let ids = Set(log.events.compactMap(\.digest))
        #expect(ids.count == 1, "every folded row names the one message it went into")

        clock.advance(by: .seconds(3599))
        #expect(try await DigestDrain(run).drain().counts.isEmpty, "the window is still open")
        clock.advance(by: .seconds(1))
        let sent = try await DigestDrain(run).drain()
        #expect(sent.counts == [.channel(.mail): [.status(.sent): 1]])
        let message = try #require(transport.sent.first?.message)
        guard case let .mail(mail) = message.content else { Issue.record("not a mail"); return }
        #expect(mail.subject == "20 个订单已发货")
        #expect(mail.text == (1...20).map { "订单 A\($0) 已发货" }.joined(separator: "；"))
        #expect(log.events.last?.messageID.value == ids.first, "the digest message has the id the rows named")
        #expect(try await DigestDrain(run).drain().counts.isEmpty, "sent once")
    }

    @Test func aFullDigestGoesAtOnceAndARowWithoutTheKeyIsInvalid() async throws {
        let (run, transport, log, _) = try run(max: 5)
        var keyless = RecipientRow(row: 7, template: "shipped", recipient: Recipient(email: "x@example.com"), parameters: ["orderId": "X"])
        keyless.row = 7
        let summary = try await OneOffSend(run).send(rows(1...6) + [keyless], batchID: "b")
        #expect(summary.counts == [.channel(.mail): [.status(.digested): 6, .status(.invalid): 1]])
        #expect(log.events.first { $0.status == .invalid }?.error?.code == "no_digest_key")
        #expect(try await DigestDrain(run).drain().counts == [.channel(.mail): [.status(.sent): 1]], "five rows filled it; the sixth opened the next")
        guard case let .mail(mail)? = transport.sent.first?.message.content else { Issue.record("no mail"); return }
        #expect(mail.subject == "5 个订单已发货")
    }
}
