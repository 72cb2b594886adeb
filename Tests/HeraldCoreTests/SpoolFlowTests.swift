import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

/// The whole chain with the spool, an injected clock and in-memory transport, ledger and log.
@Suite(.timeLimit(.minutes(1))) struct SpoolFlowTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000) // 19:06:40 in Shanghai

    func run(_ yaml: String, clock: ManualClock, outcomes: [String: DeliveryOutcome] = [:],
             jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }) throws -> (RunContext, MemoryTransport, MemoryEventLog, TemporaryWorkspace) {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": yaml + "sms:\n  channels:\n    aliyun: {transport: file, signature: 云商城}\n",
            "templates/code.yaml": "category: verification\nsms: {channel: aliyun, api_template_id: SMS_1, content: \"验证码{code}\"}\n",
            "templates/promo.yaml": "category: marketing\nsms: {channel: aliyun, api_template_id: SMS_2, content: \"优惠{n}\"}\n",
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        let transport = MemoryTransport(outcomes: outcomes)
        let log = MemoryEventLog()
        let run = RunContext(workspace: opened, transports: TransportSet.all(transport, configuration: opened.configuration),
                             ledger: MemoryLedger(), log: log, clock: clock, counters: MemoryRecipientCounters(), jitter: jitter)
        return (run, transport, log, workspace)
    }

    func row(_ number: Int, template: String, mobile: String = "13800138000") -> RecipientRow {
        RecipientRow(row: number, template: template, recipient: Recipient(mobile: mobile), parameters: ["code": "1234", "n": "\(number)"])
    }

    @Test func capsDeferToTheSpoolAndTheLaterRunSends() async throws {
        let clock = ManualClock(start: Self.start)
        let (run, transport, log, _) = try run("caps: {sms: [1/min]}\n", clock: clock)
        let runner = BatchRunner(pipeline: run.pipeline(), catalog: run.workspace.catalog)
        let first = try await runner.run(rows: [row(1, template: "promo"), row(2, template: "promo")], batch: BatchContext(id: "b", file: "f"))
        #expect(first.counts == [.channel(.sms): [.status(.sent): 1, .status(.deferred): 1]])
        let waiting = try #require(try await run.spool?.entries().first)
        #expect(waiting.nextAttempt == Self.start.addingTimeInterval(60))
        #expect(waiting.attempts == 0, "held back by a cap is not a failed attempt")
        #expect(log.events.last?.error?.code == "recipient_cap")

        clock.advance(by: .seconds(30))
        #expect(try await SpoolDrain(run).drain().counts.isEmpty, "not due yet")
        clock.advance(by: .seconds(31))
        let later = try await SpoolDrain(run).drain()
        #expect(later.counts == [.channel(.sms): [.status(.sent): 1]])
        #expect(try await run.spool?.entries().isEmpty == true)
        #expect(transport.sent.map(\.row) == [1, 2])
    }

    @Test func aRateSlowerThanARunCanWaitDefersToTheSpoolInsteadOfBlocking() async throws {
        let clock = ManualClock(start: Self.start)
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "timezone: Asia/Shanghai\ncaps: {sms: [none]}\nsms:\n  channels:\n    aliyun: {transport: file, signature: 云商城, rate: 1/day}\n",
            "templates/promo.yaml": "sms: {channel: aliyun, api_template_id: SMS_2, content: \"优惠{n}\"}\n",
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        let transport = MemoryTransport()
        let log = MemoryEventLog()
        let run = RunContext(workspace: opened, transports: TransportSet.all(transport, configuration: opened.configuration),
                               ledger: MemoryLedger(), log: log, clock: clock, counters: MemoryRecipientCounters())
        let runner = BatchRunner(pipeline: run.pipeline(), catalog: run.workspace.catalog)
        let rows = (1...3).map { row($0, template: "promo", mobile: "1380013800\($0)") }
        let summary = try await runner.run(rows: rows, batch: BatchContext(id: "b", file: "f"))
        #expect(summary.counts == [.channel(.sms): [.status(.sent): 1, .status(.deferred): 2]])
        #expect(clock.now().timeIntervalSince(Self.start) < 5, "the run did not wait for the rate")
        let waiting = try #require(try await run.spool?.entries()).sorted { $0.row < $1.row }
        #expect(waiting.map(\.nextAttempt) == [Self.start.addingTimeInterval(86_400), Self.start.addingTimeInterval(2 * 86_400)],
                "each deferred message gets its own slot at the rate")
        #expect(waiting.map(\.attempts) == [0, 0], "a rate is not a failed attempt")
        #expect(log.events.last?.error?.code == "rate_limited")
        #expect(log.events.last?.error?.reason
                == "sms account 'aliyun' is limited to 1/day; deferred to 2026-11-20T19:06:40.000+08:00, the next send the rate allows")
    }

    @Test func quietHoursDeferMarketingToMorningAndVerificationGoesNow() async throws {

        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_795_010_400)) // 22:40 in Shanghai
        let (run, transport, _, _) = try run("caps: {sms: [none]}\nquiet_hours: {marketing: \"21:00-08:00\"}\n", clock: clock)
        let runner = BatchRunner(pipeline: run.pipeline(), catalog: run.workspace.catalog)
        let summary = try await runner.run(rows: [row(1, template: "promo"), row(2, template: "code", mobile: "13900139000")],
                                           batch: BatchContext(id: "b", file: "f"))
        #expect(summary.counts == [.channel(.sms): [.status(.sent): 1, .status(.deferred): 1]])
        #expect(transport.sent.map(\.row) == [2])
        let waiting = try #require(try await run.spool?.entries().first)
        #expect(Timestamp.iso8601(waiting.nextAttempt, timeZone: TimeZone(identifier: "Asia/Shanghai")!) == "2026-11-19T08:00:00.000+08:00")
    }

    @Test func transientFailuresBackOffAndDieAfterMaxAttempts() async throws {
        let clock = ManualClock(start: Self.start)
        // Jitter 0.5: the middle of the ±20% band, so backoff is exactly min_backoff × 2^(attempt-1).
        let (run, _, log, _) = try run("caps: {sms: [none]}\nretry: {min_backoff: 1m, max_backoff: 4m, max_attempts: 3}\n", clock: clock,
                                        outcomes: ["+8613800138000": .transient(code: "isv.BUSINESS_LIMIT_CONTROL", "flow control")],
                                        jitter: { 0.5 })
        let runner = BatchRunner(pipeline: run.pipeline(), catalog: run.workspace.catalog)
        _ = try await runner.run(rows: [row(1, template: "promo")], batch: BatchContext(id: "b", file: "f"))
        for _ in 0..<4 {
            clock.advance(by: .seconds(300))
            _ = try await SpoolDrain(run).drain()
        }
        #expect(log.events.map { "\($0.attempt)-\($0.status.rawValue)" } == ["1-deferred", "2-deferred", "3-failed"])
        let gaps = try zip(log.events.dropFirst(), log.events).map { later, earlier in
            try #require(earlier.nextAttempt).timeIntervalSince(earlier.timestamp)
        }
        #expect(gaps.count == 2)
        #expect(gaps == [60, 120], "backoff doubles from min_backoff")
        #expect(try await run.spool?.entries().isEmpty == true)
        #expect(try await run.spool?.entries(dead: true).map(\.attempts) == [3])
    }
}

/// Files processed before the name joined the batch identity keep their old id.
@Suite(.timeLimit(.minutes(1))) struct LegacyBatchIdentityTests {
    @Test func aFileTheLedgerKnowsByItsBytesAloneIsStillARedrop() async throws {
        let csv = "mobile,n\n13800138000,1\n"
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "inbox: {settle: 0s}\ncaps: {sms: [none]}\nsms:\n  channels:\n    aliyun: {transport: file, signature: 云商城}\n",
            "templates/promo.yaml": "sms: {channel: aliyun, api_template_id: SMS_2, content: \"优惠{n}\"}\n",
            "recipients/inbox/promo.csv": csv,
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        let ledger = MemoryLedger()
        // What an earlier version recorded: batch id = sha256 of the bytes alone.
        let legacy = try #require(try BatchFingerprint.compute(workspace.url.appendingPathComponent("recipients/inbox/promo.csv")).legacyBatchID)
        try await ledger.record([LedgerEntry(id: MessageID(batch: legacy, row: 1, channel: "sms"), batch: legacy, row: 1, channel: .sms,
                                       template: "promo", status: .sent, updatedAt: Date())])
        let transport = MemoryTransport()
        let run = RunContext(workspace: opened, transports: TransportSet.all(transport, configuration: opened.configuration),
                               ledger: ledger, log: MemoryEventLog(), clock: ManualClock(start: Date()), counters: MemoryRecipientCounters())
        let summary = try await DropFolderRun(run).run()
        #expect(summary.counts == [.channel(.sms): [.status(.duplicate): 1]])
        #expect(transport.sent.isEmpty)
    }
}
