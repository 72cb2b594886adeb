import Foundation
import Testing
@testable import HeraldCore
import HeraldPostgres
import HeraldTestSupport

/// What a worker that dies holding a chunk may cost the others: never a chunk sent again, only
/// the messages it had in flight. The chain over the in-memory queue, ledger and send progress,
/// with the dead worker's part played by the test at exact points.
@Suite(.timeLimit(.minutes(1))) struct LostWorkerTests {
    static let files = [
        "herald.yaml": "caps: {sms: [none]}\nsms:\n  channels:\n    aliyun: {transport: file, signature: 云商城}\n",
        "templates/code.yaml": "sms: {channel: aliyun, api_template_id: SMS_1, content: \"您的订单{code}已发货\"}\n",
    ]
    static let batch = BatchContext(id: "b-lost", file: "code.lost.csv")

    static func rows(_ range: ClosedRange<Int>) -> [BatchRecord] {
        range.map { .row(RecipientRow(row: $0, line: $0 + 1, template: "code", recipient: Recipient(mobile: "1380013\(String(format: "%04d", $0))"),
                                      parameters: ["code": "A\($0)"])) }
    }

    static func id(row: Int) -> MessageID {
        batch.messageID(row: row, channel: Channel.sms.rawValue)
    }

    /// The queue drain of worker `name` over the shared in-memory stores.
    static func run(_ name: String, workspace: Workspace, transport: MemoryTransport, queue: any WorkQueue, ledger: any Ledger,
                    log: MemoryEventLog, progress: (any SendProgressStore)? = nil) -> QueueDrain {
        QueueDrain(RunContext(workspace: workspace, transports: TransportSet.all(transport, configuration: workspace.configuration),
                              ledger: ledger, log: log, spool: MemorySpool(), queue: queue, progress: progress,
                              worker: WorkerSettings(name: name, lease: .seconds(60))))
    }

    /// The case of the 381 duplicates: a worker that met a batch while the ledger knew nothing of
    /// it remembered "new batch" for every later chunk of it, so a chunk retaken from a dead worker,
    /// whose sends that worker's journal recovery had put in the ledger, went out again whole.
    @Test func aRetakenChunkIsLookedUpInTheLedgerWhateverTheBatchLookedLikeBefore() async throws {
        let folder = try TemporaryWorkspace(files: Self.files)
        let workspace = try Workspace.open(at: folder.url, environment: [:])
        let now = Clock(Date(timeIntervalSince1970: 1_795_000_000))
        let queue = MemoryWorkQueue(now: { now.date })
        var chunks = [Self.rows(1...3), Self.rows(4...6)].makeIterator()
        _ = try queue.enqueue(batch: Self.batch, worker: "w1") { chunks.next().map { ($0, 2) } }
        // w2 takes rows 1-3, sends them, and dies; it is restarted and its journal recovery records
        // the three sends in the ledger just after w3 first asked whether the ledger knew the batch.
        let dead = try #require(try queue.claim(worker: "w2", lease: .seconds(10)))
        #expect(dead.records == Self.rows(1...3))
        let memory = MemoryLedger()
        let ledger = HookedLedger(memory, onFirstKnows: {
            var recovered = (1...3).map { row in
                LedgerEntry(id: Self.id(row: row), batch: Self.batch.id, row: row, channel: .sms, template: "code", status: .sent,
                            updatedAt: now.date, file: Self.batch.file)
            }
            for index in recovered.indices { recovered[index].worker = "w2" }
            try memory.record(recovered, siteMessages: [])
            now.advance(11)   // w2's lease runs out (w3's, of 60 s, does not)
        })
        let transport = MemoryTransport(concurrency: 1)
        let log = MemoryEventLog()
        let summary = try await Self.run("w3", workspace: workspace, transport: transport, queue: queue, ledger: ledger, log: log).drain()

        #expect(transport.sent.map(\.row) == [4, 5, 6], "rows 1-3 were sent by w2: not again")
        #expect(summary.total(.sent) == 3 && summary.total(.duplicate) == 3)
        let note = try #require(log.events.first { $0.kind == .batch && $0.status == .duplicate })
        #expect(note.count == 3 && note.error?.reason.contains("sent by worker w2: 3") == true)
        #expect(try queue.backlog() == (chunks: 0, rows: 0))
    }

    /// A worker whose machine is lost takes its journal with it: what it sent is known only from
    /// the shared progress, which the worker that retakes the chunk records and skips.
    @Test func aLostWorkersSendsAreRecordedFromTheSharedStoreAndNotSentAgain() async throws {
        let folder = try TemporaryWorkspace(files: Self.files)
        let workspace = try Workspace.open(at: folder.url, environment: [:])
        let now = Clock(Date(timeIntervalSince1970: 1_795_000_000))
        let queue = MemoryWorkQueue(now: { now.date })
        _ = try queue.enqueue(batch: Self.batch, worker: "w1", next: WorkQueueTests.once(Self.rows(1...4)))
        _ = try #require(try queue.claim(worker: "w2", lease: .seconds(60)))
        let ledger = MemoryLedger()
        let progress = MemorySendProgressStore(ledger: ledger)
        try progress.record((1...2).map { row in
            SharedSend(send: SendJournal.Send(id: Self.id(row: row), batch: Self.batch.id, file: Self.batch.file, row: row, channel: .sms,
                                              account: "aliyun", template: "code", category: .transactional, transport: "aliyun",
                                              providerID: "biz-\(row)"),
                       worker: "w2", at: now.date)
        })
        let transport = MemoryTransport(concurrency: 1)
        let log = MemoryEventLog()
        let w3 = Self.run("w3", workspace: workspace, transport: transport, queue: queue, ledger: ledger, log: log, progress: progress)
        #expect(try await w3.drain().counts.isEmpty, "w2's lease still holds the chunk")
        now.advance(61)
        let summary = try await w3.drain()

        #expect(transport.sent.map(\.row) == [3, 4])
        #expect(summary.recoveredShared == 2 && summary.total(.sent) == 2 && summary.total(.duplicate) == 2)
        let recovered = log.events.filter { $0.extra["recovered"] == "shared store" }
        #expect(recovered.map(\.messageID) == [Self.id(row: 1), Self.id(row: 2)].sorted { $0.value < $1.value })
        #expect(recovered.allSatisfy { $0.status == .sent && $0.extra["sent_by"] == "w2" && $0.providerID?.hasPrefix("biz-") == true })
        #expect(try ledger.records(of: [Self.id(row: 1)])[Self.id(row: 1)] == LedgerRecord(status: .sent, file: Self.batch.file, worker: "w2"))
        #expect(try await ledger.statuses(of: (1...4).map(Self.id(row:))).values.allSatisfy { $0 == .sent })
        #expect(try progress.prune(recordedBefore: now.date) == 2, "the ledger answers for them now")
    }

    /// A restarted worker does not wait out the lease its previous process held.
    @Test func aRestartedWorkerTakesItsOwnLeasesBackAtOnce() async throws {
        let folder = try TemporaryWorkspace(files: Self.files)
        let workspace = try Workspace.open(at: folder.url, environment: [:])
        let queue = MemoryWorkQueue()
        _ = try queue.enqueue(batch: Self.batch, worker: "w1", next: WorkQueueTests.once(Self.rows(1...2)))
        _ = try #require(try queue.claim(worker: "w2", lease: .seconds(60)))
        let transport = MemoryTransport(concurrency: 1)
        let other = try await Self.run("w3", workspace: workspace, transport: transport, queue: queue, ledger: MemoryLedger(),
                                       log: MemoryEventLog()).drain()
        #expect(other.counts.isEmpty && transport.sent.isEmpty, "another worker waits for the lease")
        let summary = try await Self.run("w2", workspace: workspace, transport: transport, queue: queue, ledger: MemoryLedger(),
                                         log: MemoryEventLog()).drain()
        #expect(summary.total(.sent) == 2 && transport.sent.count == 2)
        #expect(summary.notes.contains("took back 1 chunk left leased to worker w2 by an earlier process"))
    }

    /// A chunk leaves the queue only once its log and ledger are written: removed while its write
    /// was still under way, a crash then lost what it deferred and left its sends unrecorded.
    @Test func aChunkStaysQueuedUntilItsRecordIsWritten() async throws {
        let folder = try TemporaryWorkspace(files: Self.files)
        let workspace = try Workspace.open(at: folder.url, environment: [:])
        let queue = MemoryWorkQueue()
        _ = try queue.enqueue(batch: Self.batch, worker: "w1", next: WorkQueueTests.once(Self.rows(1...2)))
        let writing = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let ledger = HookedLedger(MemoryLedger(), beforeWrite: {
            writing.signal()
            release.wait()
        })
        let run = Self.run("w1", workspace: workspace, transport: MemoryTransport(concurrency: 1), queue: queue, ledger: ledger,
                           log: MemoryEventLog())
        let drain = Task { try await run.drain() }
        await Task.detached { writing.wait() }.value
        #expect(try queue.backlog() == (chunks: 1, rows: 2), "the ledger write of the chunk is under way")
        release.signal()
        #expect(try await drain.value.total(.sent) == 2)
        #expect(try queue.backlog() == (chunks: 0, rows: 0))
    }

    /// The bound behind "two messages per connection": a send returns only once every earlier send
    /// is stored, so while a write stalls the connection cannot start the message after next.
    @Test func aSendWaitsUntilEveryEarlierSendIsStored() throws {
        let store = MemorySendProgressStore()
        let stall = DispatchSemaphore(value: 0)
        let writes = LockedCounter()
        store.beforeWrite = { _ in
            if writes.increment() == 1 { stall.wait() }
        }
        let progress = SendProgress(store: store, worker: "w")
        progress.sent(Self.send(1))   // nothing before it: returns while its write stalls
        let second = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            progress.sent(Self.send(2))
            second.signal()
        }
        #expect(second.wait(timeout: .now() + 0.3) == .timedOut, "send 1 is not stored yet: send 2's connection waits")
        stall.signal()
        #expect(second.wait(timeout: .now() + 5) == .success)
        progress.flush()
        #expect(Set(store.all.map(\.send.row)) == [1, 2] && store.all.allSatisfy { $0.worker == "w" })
    }

    @Test func aStoreThatKeepsFailingStopsTheSendsWithAReason() throws {
        let store = MemorySendProgressStore()
        struct Down: Error, CustomStringConvertible { var description: String { "connection refused" } }
        store.beforeWrite = { _ in throw Down() }
        let progress = SendProgress(store: store, worker: "w", patience: .milliseconds(200))
        progress.sent(Self.send(1))
        progress.flush()
        #expect(progress.failure?.contains("connection refused") == true)
        store.beforeWrite = nil
        progress.sent(Self.send(2))
        progress.flush()
        #expect(progress.failure == nil, "a write that goes through again clears it")
    }

    static func send(_ row: Int) -> SendJournal.Send {
        SendJournal.Send(id: id(row: row), batch: batch.id, file: batch.file, row: row, channel: .sms, account: "aliyun", template: "code",
                         category: .transactional, transport: "aliyun", providerID: nil)
    }
}

/// The send progress contract over its in-memory twin and PostgreSQL, and the worker-name lock.
@Suite(.timeLimit(.minutes(1))) struct SendProgressStoreTests {
    @Test(arguments: WorkQueueTests.Kind.allCases)
    func sendsAreKeptOnceAndPrunedWhenTheLedgerHoldsThem(kind: WorkQueueTests.Kind) async throws {
        let ledger: any Ledger, store: any SendProgressStore
        switch kind {
        case .memory:
            let memory = MemoryLedger()
            ledger = memory
            store = MemorySendProgressStore(ledger: memory)
        case .postgres:
            let pool = try PostgresTestDatabase.pool()
            ledger = try PostgresLedger(pool: pool, worker: "w3")
            store = try PostgresSendProgress(pool: pool)
        }
        let at = Date(timeIntervalSince1970: 1_795_000_000)
        var first = LostWorkerTests.send(1)
        first.providerID = "<1@shop.example.com>"
        try store.record([SharedSend(send: first, worker: "w2", at: at), SharedSend(send: LostWorkerTests.send(2), worker: "w2", at: at)])
        try store.record([SharedSend(send: LostWorkerTests.send(1), worker: "w9", at: at)])
        let found = try await store.sends(of: [LostWorkerTests.id(row: 1), LostWorkerTests.id(row: 2), LostWorkerTests.id(row: 3)])
        #expect(found.count == 2)
        #expect(found[LostWorkerTests.id(row: 1)] == SharedSend(send: first, worker: "w2", at: at), "the first record stays, whole")
        try await ledger.record([LedgerEntry(id: LostWorkerTests.id(row: 1), batch: LostWorkerTests.batch.id, row: 1, channel: .sms,
                                       template: "code", status: .sent, updatedAt: at)])
        #expect(try await store.prune(recordedBefore: at.addingTimeInterval(1)) == 1)
        #expect(try await store.sends(of: [LostWorkerTests.id(row: 1), LostWorkerTests.id(row: 2)]).keys.map(\.value) == [LostWorkerTests.id(row: 2).value])
        if kind == .postgres {
            #expect(try await ledger.records(of: [LostWorkerTests.id(row: 1)]).first?.value.worker == "w3", "the ledger keeps who wrote it")
        }
    }

    @Test(arguments: WorkQueueTests.Kind.allCases)
    func aWorkerReleasesOnlyItsOwnLeases(kind: WorkQueueTests.Kind) async throws {
        let queue = try WorkQueueTests.queue(kind)
        _ = try await queue.enqueue(batch: BatchContext(id: "b-release", file: "a.csv"), worker: "a", next: WorkQueueTests.chunks(1...4, priority: 2))
        let mine = try #require(try await queue.claim(worker: "w2", lease: .seconds(60)))
        _ = try #require(try await queue.claim(worker: "w3", lease: .seconds(60)))
        #expect(try await queue.release(worker: "w2") == 1)
        let again = try #require(try await queue.claim(worker: "w2", lease: .seconds(60)))
        #expect(again.id == mine.id && again.claims == 2, "free at once, and known to be retaken")
        #expect(try await queue.claim(worker: "w2", lease: .seconds(60)) == nil, "w3's chunk stays w3's")
    }

    @Test(.enabled(if: PostgresTestDatabase.url != nil))
    func aWorkerNameIsHeldByOneProcessAndFreedWhenItsSessionEnds() throws {
        let pool = try PostgresTestDatabase.pool()
        var held: PostgresWorkerLock? = try PostgresWorkerLock.take("w2", in: pool)
        #expect(try PostgresWorkerLock.holder(of: "w2", in: pool)?.contains("pid \(getpid())") == true)
        #expect(try PostgresWorkerLock.holder(of: "w3", in: pool) == nil)
        do {
            _ = try PostgresWorkerLock.take("w2", in: pool, patience: .milliseconds(200))
            Issue.record("a second process took a worker name in use")
        } catch let taken as WorkerNameTaken {
            #expect(taken.description.contains("worker.name 'w2' is in use by a running herald (pid \(getpid())"))
        }
        withExtendedLifetime(held) {}
        held = nil
        #expect(try PostgresWorkerLock.holder(of: "w2", in: pool) == nil, "its connection closed: the name is free at once")
        _ = try PostgresWorkerLock.take("w2", in: pool, patience: .zero)
    }
}

/// A date a test moves by hand, readable from any thread.
final class Clock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    init(_ start: Date) {
        current = start
    }

    var date: Date { lock.withLock { current } }

    func advance(_ seconds: TimeInterval) {
        lock.withLock { current += seconds }
    }
}

/// A memory ledger that lets a test act at exact points: `onFirstKnows` runs once, right after the
/// ledger first answers `knows(batch:)`; `beforeWrite` runs before every write (to stall it).
final class HookedLedger: Ledger, @unchecked Sendable {
    private let base: MemoryLedger
    private let lock = NSLock()
    private var onFirstKnows: (() throws -> Void)?
    private let beforeWrite: (@Sendable () -> Void)?

    init(_ base: MemoryLedger, onFirstKnows: (() throws -> Void)? = nil, beforeWrite: (@Sendable () -> Void)? = nil) {
        self.base = base
        self.onFirstKnows = onFirstKnows
        self.beforeWrite = beforeWrite
    }

    func knows(batch: String) async throws -> Bool {
        let answer = try base.knows(batch: batch)
        let hook = lock.withLock { () -> (() throws -> Void)? in
            defer { onFirstKnows = nil }
            return onFirstKnows
        }
        try hook?()
        return answer
    }

    func record(_ entries: [LedgerEntry], siteMessages: [SiteDelivery]) async throws {
        beforeWrite?()
        try base.record(entries, siteMessages: siteMessages)
    }

    func records(of ids: [MessageID]) throws -> [MessageID: LedgerRecord] { try base.records(of: ids) }
    func entries(ids: [MessageID], providerIDs: [String]) throws -> [LedgerEntry] { try base.entries(ids: ids, providerIDs: providerIDs) }
    func isBlank() throws -> Bool { try base.isBlank() }
    func markRebuilding() throws { try base.markRebuilding() }
    func markRebuilt(at date: Date) throws { try base.markRebuilt(at: date) }
}
