import Foundation
import Testing
@testable import HeraldCore
import HeraldPostgres
import PostgresNIO
import HeraldTestSupport

/// The work queue's contract, held to its in-memory twin and to PostgreSQL; and what only a
/// store shared by several workers must do: claims, leases, shared spool entries and rates.
@Suite(.timeLimit(.minutes(1))) struct WorkQueueTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case memory, postgres
        static var allCases: [Kind] { PostgresTestDatabase.url == nil ? [.memory] : [.memory, .postgres] }
        var testDescription: String { rawValue }
    }

    static func queue(_ kind: Kind, now: @escaping @Sendable () -> Date = { Date() }) throws -> any WorkQueue {
        switch kind {
        case .memory: MemoryWorkQueue(now: now)
        case .postgres: try PostgresWorkQueue(pool: PostgresTestDatabase.pool())
        }
    }

    static func records(_ rows: ClosedRange<Int>) -> [BatchRecord] {
        rows.map { .row(RecipientRow(row: $0, line: $0 + 1, template: "t", recipient: Recipient(mobile: "1380013800\($0 % 10)"),
                                     parameters: ["code": "\($0)"])) }
    }

    /// Chunks of 2 rows out of `rows`, all with `priority`.
    static func chunks(_ rows: ClosedRange<Int>, priority: Int) -> () throws -> (records: [BatchRecord], priority: Int)? {
        var left = records(rows)
        return {
            guard !left.isEmpty else { return nil }
            let chunk = Array(left.prefix(2))
            left.removeFirst(chunk.count)
            return (chunk, priority)
        }
    }

    @Test(arguments: Kind.allCases)
    func aBatchIsTakenOnceAndItsChunksGoMostUrgentFirst(kind: Kind) async throws {
        let queue = try Self.queue(kind)
        let marketing = BatchContext(id: "b-marketing", file: "m.csv"), code = BatchContext(id: "b-code", file: "v.jsonl")
        #expect(try await queue.enqueue(batch: marketing, worker: "a", next: Self.chunks(1...5, priority: 3)) == .queued(rows: 5, chunks: 3))
        #expect(try await queue.enqueue(batch: code, worker: "b", next: Self.chunks(1...1, priority: 0)) == .queued(rows: 1, chunks: 1))
        guard case let .takenBefore(worker, file, _) = try await queue.enqueue(batch: marketing, worker: "c", next: Self.chunks(1...5, priority: 3)) else {
            Issue.record("a batch id queued before was queued again")
            return
        }
        #expect(worker == "a" && file == "m.csv")
        #expect(try await queue.backlog() == (chunks: 4, rows: 6))

        let first = try #require(try await queue.claim(worker: "x", lease: .seconds(60)))
        #expect(first.batch == code && first.records == Self.records(1...1) && first.claims == 1, "verification first, rows intact")
        let second = try #require(try await queue.claim(worker: "y", lease: .seconds(60)))
        #expect(second.batch.id == "b-marketing" && second.records == Self.records(1...2))
        try await queue.finish(first.id)
        try await queue.finish(second.id)
        #expect(try await queue.claim(worker: "x", lease: .seconds(60))?.records == Self.records(3...4))
        #expect(try await queue.claim(worker: "y", lease: .seconds(60))?.records == Self.records(5...5))
        #expect(try await queue.claim(worker: "z", lease: .seconds(60)) == nil, "every chunk is leased")
    }

    @Test(arguments: Kind.allCases)
    func aBatchThatFailsWhileQueuingLeavesNothingQueuedOrClaimed(kind: Kind) async throws {
        let queue = try Self.queue(kind)
        let batch = BatchContext(id: "b1", file: "a.csv")
        struct Unreadable: Error {}
        var calls = 0
        await #expect(throws: Unreadable.self) {
            try await queue.enqueue(batch: batch, worker: "a") {
                calls += 1
                if calls == 2 { throw Unreadable() }
                return (Self.records(1...2), 2)
            }
        }
        #expect(try await queue.backlog() == (chunks: 0, rows: 0))
        #expect(try await queue.enqueue(batch: batch, worker: "a", next: Self.chunks(1...2, priority: 2)) == .queued(rows: 2, chunks: 1),
                "the file can be taken again once it is readable")
    }

    @Test(.enabled(if: PostgresTestDatabase.url != nil))
    func aChunkWhoseLeaseRanOutGoesToAnotherWorker() async throws {
        let pool = try PostgresTestDatabase.pool()
        let queue = try PostgresWorkQueue(pool: pool)
        _ = try await queue.enqueue(batch: BatchContext(id: "b1", file: "a.csv"), worker: "a", next: Self.chunks(1...2, priority: 2))
        let taken = try #require(try await queue.claim(worker: "dies", lease: .seconds(60)))
        #expect(try await queue.claim(worker: "b", lease: .seconds(60)) == nil, "held while the lease lasts")
        // The lease runs out (on the database's clock, as leases do), without waiting for it: a
        // 200 ms lease made this test depend on how fast a loaded machine got to the second claim.
        try await pool.connection { session in
            try await session.run("UPDATE herald_queue SET lease_until = clock_timestamp() - interval '1 second' WHERE id = $1", [taken.id])
        }
        let again = try #require(try await queue.claim(worker: "b", lease: .seconds(60)))
        #expect(again.id == taken.id && again.claims == 2)
    }

    @Test(.enabled(if: PostgresTestDatabase.url != nil))
    func workersClaimingAtOnceNeverShareAChunk() async throws {
        let pool = try PostgresTestDatabase.pool(size: 8)
        let queue = try PostgresWorkQueue(pool: pool)
        _ = try await queue.enqueue(batch: BatchContext(id: "b1", file: "a.csv"), worker: "a", next: Self.chunks(1...200, priority: 2))
        let ids = await withTaskGroup(of: [Int64].self) { group in
            for worker in 0..<6 {
                group.addTask {
                    var mine: [Int64] = []
                    while let chunk = try? await queue.claim(worker: "w\(worker)", lease: .seconds(60)) { mine.append(chunk.id) }
                    return mine
                }
            }
            return await group.reduce(into: []) { $0 += $1 }
        }
        #expect(ids.count == 100 && Set(ids).count == 100, "100 chunks, each claimed by exactly one worker")
    }

    @Test(.enabled(if: PostgresTestDatabase.url != nil))
    func aDueSpoolEntryGoesToOneWorker() async throws {
        let pool = try PostgresTestDatabase.pool()
        let a = try PostgresSpool(pool: pool, worker: "a", lease: .seconds(60))
        let b = try PostgresSpool(pool: pool, worker: "b", lease: .seconds(60))
        let t0 = Date(timeIntervalSince1970: 1_795_000_000)
        let entry = SpoolEntry(id: "m1", batch: "b", file: "f.csv", row: 1, line: 2, channel: .sms, account: "aliyun",
                               address: "13800138000", recipient: Recipient(mobile: "13800138000"), mail: MailExtras(),
                               message: RenderedMessage(template: "t", category: .transactional,
                                                        content: .sms(RenderedSMS(channels: ["aliyun"], apiTemplateID: "SMS_1", content: "您好", parameters: []))),
                               attempts: 1, firstSeen: t0, nextAttempt: t0, lastErrorCode: nil, lastError: nil)
        try await a.put(entry)
        #expect(try await a.due(at: t0).map(\.id) == ["m1"])
        #expect(try await b.due(at: t0).isEmpty, "worker a holds it")
        try await a.put(entry)
        #expect(try await b.due(at: t0).map(\.id) == ["m1"], "put back (deferred again), any worker may take it")
    }

    @Test(.enabled(if: PostgresTestDatabase.url != nil))
    func aRateHoldsForAllWorkersTogether() async throws {
        let pool = try PostgresTestDatabase.pool(size: 4)
        let buckets = try PostgresRateBuckets(pool: pool)
        let rate = RateLimit(count: 50, period: .seconds(1))
        let start = Date()
        // Three workers take as fast as they can for at least 1 s (and until the first bucket is
        // spent, however slowly connections open on a loaded machine): together they get one full
        // bucket (50) plus what refills meanwhile, not three times that.
        let granted = LockedCounter()
        let total = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<3 {
                group.addTask {
                    var mine = 0
                    while Date().timeIntervalSince(start) < 1 || granted.value < 50 {
                        if let (count, wait) = try? await buckets.take(TransportKey(.sms, "aliyun"), rate: rate, upTo: 5) {
                            mine += count
                            granted.add(count)
                            if count == 0 { try? await Task.sleep(for: .seconds(wait)) }
                        }
                    }
                    return mine
                }
            }
            return await group.reduce(0, +)
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(total <= 50 + Int((elapsed * 50).rounded(.up)) + 5, "granted \(total) in \(elapsed)s")
        #expect(total >= 50)
    }

    @Test(.enabled(if: PostgresTestDatabase.url != nil))
    func processesStartingTogetherMigrateOnce() throws {
        let schema = try PostgresTestDatabase.freshSchema()
        let url = try #require(PostgresTestDatabase.url)
        let failures = NSLock()
        nonisolated(unsafe) var errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do {
                let pool = try PostgresPool(url: url, size: 2, schema: schema)
                _ = try PostgresStores(pool: pool, worker: WorkerSettings(name: "w"))
                pool.close()
            } catch {
                failures.withLock { errors.append("\(error)") }
            }
        }
        #expect(errors.isEmpty)
    }

    /// Asserts on every run: where the PostgreSQL suites are required (`.ci/test`, CI), the server
    /// is named, answers, and every contract suite includes it; elsewhere, that none pretends to.
    @Test func continuousIntegrationNeverSkipsPostgreSQL() throws {
        let named = PostgresTestDatabase.url != nil
        #expect(named || !PostgresTestDatabase.isRequired,
                "this run must include the PostgreSQL suites (.ci/test starts a server and sets HERALD_TEST_DATABASE_URL)")
        #expect(StoreKind.allCases.contains(.postgres) == named)
        #expect(WorkQueueTests.Kind.allCases.contains(.postgres) == named)
        if named {
            let pool = try PostgresTestDatabase.pool(size: 1)
            defer { pool.close() }
            #expect(try pool.withSession { try $0.query("SELECT 1").count } == 1, "the test server answers")
        }
    }

    @Test func aBadStoreURLSaysWhatIsWrongWithoutThePassword() {
        #expect(throws: (any Error).self) { try PostgresPool(url: "mysql://u:hunter2@h/db") }
        do {
            _ = try PostgresPool(url: "postgres://u:hunter2@127.0.0.1:1/db").withSession { _ in }
            Issue.record("connected to a closed port")
        } catch {
            #expect("\(error)".contains("cannot connect to postgres://u@127.0.0.1:1/db"))
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}

/// Per-recipient caps over PostgreSQL hold for all workers together: two workers deciding at once
/// for the same address cannot both take its last allowed send.
@Suite(.timeLimit(.minutes(1)), .enabled(if: PostgresTestDatabase.url != nil)) struct SharedCapsTests {
    @Test func twoWorkersDecidingAtOnceGrantOneSendUnderACapOfOne() async throws {
        let schema = try PostgresTestDatabase.freshSchema()
        let url = try #require(PostgresTestDatabase.url)
        var configuration = Configuration()
        configuration.caps = [.sms: [nil: [RateLimit(count: 1, period: .seconds(60))]]]
        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_795_000_000))
        // Two workers: each its own pool and limiter over the same tables.
        let limiters = try (0..<2).map { _ in
            RateLimiter(configuration: configuration, preferences: Preferences(),
                        counters: try PostgresRecipientCounters(pool: PostgresPool(url: url, size: 2, schema: schema)), clock: clock)
        }
        @Sendable func chunk() async -> [Job] {
            var job = Job(batch: BatchContext(id: "b", file: "a.csv"), row: RecipientRow(row: 1, recipient: Recipient(mobile: "13800138000")))
            var delivery = Delivery(id: MessageID("x"), channel: .sms, address: "+8613800138000")
            delivery.account = "aliyun"
            delivery.message = RenderedMessage(template: "t", category: .transactional,
                                               content: .sms(RenderedSMS(channels: ["aliyun"], apiTemplateID: "SMS_1", content: "您好", parameters: [])))
            job.deliveries = [delivery]
            return [job]
        }
        let decided = await withTaskGroup(of: [Job].self) { group in
            for i in 0..<8 {
                group.addTask {
                    var jobs = await chunk()
                    try? await limiters[i % 2].apply(&jobs)
                    return jobs
                }
            }
            return await group.reduce(into: [[Job]]()) { $0.append($1) }
        }
        let deliveries = decided.flatMap { $0.flatMap(\.deliveries) }
        #expect(deliveries.count == 8)
        #expect(deliveries.filter { $0.status == nil }.count == 1, "one send approved, seven deferred")
        #expect(deliveries.filter { $0.status == .deferred }.count == 7)
        #expect(deliveries.allSatisfy { $0.countedAt == nil }, "recorded while deciding, not again by the record stage")
    }
}

/// The chain over a shared queue: a chunk slower to send than its lease keeps its lease.
@Suite(.timeLimit(.minutes(1)), .enabled(if: PostgresTestDatabase.url != nil)) struct QueueDrainTests {
    @Test func aChunkSlowerThanItsLeaseIsNotTakenByAnotherWorkerMeanwhile() async throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "caps: {sms: [none]}\nsms:\n  channels:\n    aliyun: {transport: file, signature: 云商城}\n",
            "templates/code.yaml": "category: verification\nsms: {channel: aliyun, api_template_id: SMS_1, content: \"验证码{code}\"}\n",
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        // The first send is held until the test has seen both leases renewed: slower than its lease
        // by construction, not by a guess at how long a send takes on a loaded machine.
        let sending = LockedCounter(), release = LockedCounter()
        let transport = MemoryTransport(concurrency: 1, stall: { _ in
            _ = sending.increment()
            while release.value == 0 { try? await Task.sleep(for: .milliseconds(20)) }
        })
        let pool = try PostgresTestDatabase.pool()
        let queue = try PostgresWorkQueue(pool: pool)
        let lease = Duration.seconds(3)
        let run = QueueDrain(RunContext(workspace: opened, transports: TransportSet.all(transport, configuration: opened.configuration),
                                        ledger: MemoryLedger(), log: MemoryEventLog(), spool: MemorySpool(), queue: queue,
                                        worker: WorkerSettings(name: "slow", lease: lease)))
        /// Each queued chunk's lease end, by id.
        func leases() throws -> [Int64: Double] {
            try pool.withSession { session in
                try session.query("SELECT id, extract(epoch FROM lease_until)::float8 FROM herald_queue WHERE lease_until IS NOT NULL")
                    .reduce(into: [:]) { leases, row in
                        let (id, until) = try row.decode((Int64, Double).self)
                        leases[id] = until
                    }
            }
        }
        let row = RecipientRow(row: 1, template: "code", recipient: Recipient(mobile: "13800138000"), parameters: ["code": "1234"])
        let second = RecipientRow(row: 2, template: "code", recipient: Recipient(mobile: "13800138001"), parameters: ["code": "5678"])
        // Two chunks: the second is claimed (and prepared) while the first is still being sent.
        var chunks = [[BatchRecord.row(row)], [BatchRecord.row(second)]].makeIterator()
        _ = try await queue.enqueue(batch: BatchContext(id: "b2", file: "code.b.csv"), worker: "slow") { chunks.next().map { ($0, 0) } }
        let drain = Task { [run] in try await run.drain() }
        // The first send is under way and both chunks are leased; then each lease is renewed at
        // least twice (past its first end: the chunk outlived its lease).
        #expect(waitUntil(seconds: 60) { sending.value > 0 && ((try? leases().count) ?? 0) == 2 })
        let first = try leases()
        #expect(waitUntil(seconds: 60) {
            guard let now = try? leases() else { return false }
            return first.allSatisfy { id, until in (now[id] ?? 0) > until + lease.seconds }
        }, "the heartbeat renews both leases while the send is held")
        #expect(try await queue.claim(worker: "other", lease: .seconds(60)) == nil,
                "both chunks keep the slow worker's lease: the one being sent and the one waiting behind it")
        _ = release.increment()
        let summary = try await drain.value
        #expect(summary.total(.sent) == 2 && transport.sent.count == 2)
        #expect(try await queue.backlog() == (chunks: 0, rows: 0))
    }
}

extension WorkQueueTests {
    /// A `next` closure that gives `records` once.
    static func once(_ records: [BatchRecord]) -> () throws -> (records: [BatchRecord], priority: Int)? {
        var given = false
        return {
            guard !given else { return nil }
            given = true
            return (records, 0)
        }
    }
}

/// A database that cannot be reached ends an async call with a reason (postgres-nio's lease alone
/// waits for ever: without the pool's stall guard this test meets its time limit).
@Suite(.timeLimit(.minutes(3))) struct UnreachableDatabaseTests {
    /// An async call to a database that cannot be reached ends with a reason, however the
    /// client's pool behaves meanwhile (its lease alone would wait for ever): a watcher stays
    /// able to say so and to stop.
    @Test func anAsyncCallToAnUnreachableDatabaseEndsWithAReason() async throws {
        let pool = try PostgresPool(url: "postgres://u:hunter2@127.0.0.1:1/db")
        defer { pool.close() }
        do {
            _ = try await pool.connection { session in try await session.run("SELECT 1") }
            Issue.record("a closed port answered")
        } catch {
            #expect(error is PostgresStoreError, "\(error)")
            #expect(!"\(error)".contains("hunter2"))
        }
    }
}
