import Foundation
import Testing
@testable import HeraldCore
import HeraldTestSupport

/// `send_at`, the recipient's `timezone`, and `herald schedule`: every rule with an injected clock.
@Suite(.timeLimit(.minutes(1))) struct ScheduledSendTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000) // 2026-11-18T19:06:40+08:00
    static let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    @Test func sendAtTakesAnOffsetOrALocalTimeInTheGivenZone() {
        let york = TimeZone(identifier: "America/New_York")!
        func utc(_ text: String) -> String? {
            SendTime.parse(text, in: york).map { Timestamp.iso8601($0, timeZone: TimeZone(identifier: "UTC")!) }
        }
        #expect(utc("2026-12-01T09:30:00+08:00") == "2026-12-01T01:30:00.000Z")
        #expect(utc("2026-12-01T09:30+08:00") == "2026-12-01T01:30:00.000Z", "seconds are optional")
        #expect(utc("2026-12-01T09:30:00Z") == "2026-12-01T09:30:00.000Z")
        #expect(utc("2026-12-01 09:30") == "2026-12-01T14:30:00.000Z", "local, in New York (UTC-5 in December)")
        #expect(utc("2026-07-01T09:30:15") == "2026-07-01T13:30:15.000Z", "summer time (UTC-4)")
        #expect(SendTime.parse("2026-12-01 09:30", in: Self.shanghai).map { Timestamp.iso8601($0, timeZone: Self.shanghai) }
                == "2026-12-01T09:30:00.000+08:00")
        for bad in ["tomorrow", "2026-02-30 10:00", "2026-12-01 24:00", "2026-12-01", "2026-12-01T09:30:00+08", "", String(repeating: "9", count: 100)] {
            #expect(SendTime.parse(bad, in: york) == nil, "\(bad)")
        }
    }

    func run(clock: ManualClock, yaml: String = "") throws -> (RunContext, MemoryTransport, MemoryEventLog, MemoryLedger) {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "timezone: Asia/Shanghai\ncaps: {sms: [none]}\n" + yaml + "sms:\n  channels:\n    aliyun: {transport: file, signature: 云商城}\n",
            "templates/code.yaml": "category: verification\nsms: {channel: aliyun, api_template_id: SMS_1, content: \"验证码{code}\"}\n",
            "templates/promo.yaml": "category: marketing\nsms: {channel: aliyun, api_template_id: SMS_2, content: \"优惠{code}\"}\n",
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        let transport = MemoryTransport()
        let log = MemoryEventLog()
        let ledger = MemoryLedger()
        let run = RunContext(workspace: opened, transports: TransportSet.all(transport, configuration: opened.configuration),
                               ledger: ledger, log: log, clock: clock, counters: MemoryRecipientCounters(), spool: MemorySpool())
        return (run, transport, log, ledger)
    }

    func row(_ number: Int, template: String = "code", sendAt: String? = nil, timeZone: String? = nil) -> RecipientRow {
        var row = RecipientRow(row: number, template: template, recipient: Recipient(mobile: "1380013800\(number)", timeZone: timeZone),
                               parameters: ["code": "\(number)"])
        row.sendAt = sendAt
        return row
    }

    @Test func aRowAheadIsScheduledAndSentWhenDueNotBefore() async throws {
        let clock = ManualClock(start: Self.start)
        let (run, transport, log, ledger) = try run(clock: clock)
        let summary = try await OneOffSend(run).send([row(1, sendAt: "2026-11-18 19:10"), row(2, sendAt: "2026-11-18T11:00:00Z"), row(3)], batchID: "b")
        #expect(summary.counts == [.channel(.sms): [.status(.scheduled): 1, .status(.sent): 2]], "a send_at in the past sends now")
        let waiting = try #require(try await run.spool?.entries().first)
        #expect(waiting.kind == .scheduled && waiting.attempts == 0)
        #expect(waiting.nextAttempt == Self.start.addingTimeInterval(200), "19:10 in Shanghai")
        #expect(log.events.first?.status == .scheduled && log.events.first?.nextAttempt == waiting.nextAttempt)
        #expect(try await ledger.statuses(of: [MessageID(waiting.id)]) == [MessageID(waiting.id): .scheduled])

        clock.advance(by: .seconds(199))
        #expect(try await SpoolDrain(run).drain().counts.isEmpty, "one second early: nothing")
        clock.advance(by: .seconds(1))
        #expect(try await SpoolDrain(run).drain().counts == [.channel(.sms): [.status(.sent): 1]])
        #expect(transport.sent.map(\.row).sorted() == [1, 2, 3])
        #expect(try await run.spool?.entries().isEmpty == true)

        let again = try await OneOffSend(run).send([row(1, sendAt: "2026-11-18 19:10")], batchID: "b")
        #expect(again.counts == [.channel(.sms): [.status(.duplicate): 1]], "the same row again is a duplicate, scheduled or sent")
    }

    @Test func aCancelledMessageIsNeverSentAndStaysCancelled() async throws {
        let clock = ManualClock(start: Self.start)
        let (run, transport, log, ledger) = try run(clock: clock)
        _ = try await OneOffSend(run).send([row(1, sendAt: "2026-11-20 09:00"), row(2, sendAt: "2026-11-20 09:00")], batchID: "b")
        let schedule = Schedule(spool: try #require(run.spool), ledger: ledger, log: log, clock: { clock.now() })
        #expect(try await schedule.waiting(batch: "b").count == 2)
        #expect(try await schedule.waiting(batch: "other").isEmpty)
        let one = try #require(try await schedule.waiting().first)
        #expect(try await schedule.cancel(message: one.id).map(\.id) == [one.id])
        #expect(try await ledger.statuses(of: [MessageID(one.id)]) == [MessageID(one.id): .cancelled])
        #expect(log.events.last?.status == .cancelled && log.events.last?.error?.code == "cancelled")
        #expect(try await schedule.cancel(batch: "b").count == 1)
        #expect(try await schedule.cancel(batch: "b").isEmpty, "nothing left to cancel")

        clock.advance(by: .seconds(3 * 86_400))
        #expect(try await SpoolDrain(run).drain().counts.isEmpty)
        #expect(transport.sent.isEmpty, "never sent")
        #expect(try await OneOffSend(run).send([row(1, sendAt: "2026-11-20 09:00")], batchID: "b").counts == [.channel(.sms): [.status(.duplicate): 1]])
    }

    @Test func anEntryCancelledInTheLedgerButLeftInTheSpoolIsDroppedNotSent() async throws {
        // A crash between the ledger's `cancelled` and the spool's removal.
        let clock = ManualClock(start: Self.start)
        let (run, transport, _, ledger) = try run(clock: clock)
        _ = try await OneOffSend(run).send([row(1, sendAt: "2026-11-20 09:00")], batchID: "b")
        let entry = try #require(try await run.spool?.entries().first)
        try await ledger.record([LedgerEntry(id: MessageID(entry.id), batch: "b", row: 1, channel: .sms, template: "code", status: .cancelled,
                                       updatedAt: clock.now())])
        clock.advance(by: .seconds(3 * 86_400))
        #expect(try await SpoolDrain(run).drain().counts == [.channel(.sms): [.status(.cancelled): 1]])
        #expect(transport.sent.isEmpty)
        #expect(try await run.spool?.entries().isEmpty == true)
    }

    @Test func theRecipientsZoneDecidesQuietHoursAndLocalSendTimes() async throws {
        // 19:06:40 in Shanghai is 06:06:40 in New York: inside quiet hours there, not here.
        let clock = ManualClock(start: Self.start)
        let (run, _, log, _) = try run(clock: clock, yaml: "quiet_hours: {marketing: \"21:00-08:00\"}\n")
        let summary = try await OneOffSend(run).send([row(1, template: "promo", timeZone: "America/New_York"), row(2, template: "promo"),
                                          row(3, template: "promo", timeZone: "Mars/Olympus"),
                                          row(5, template: "promo", timeZone: "../../../etc/passwd")], batchID: "b")
        #expect(summary.counts[.channel(.sms)] == [.status(.deferred): 1, .status(.sent): 1, .status(.invalid): 2])
        let deferred = try #require(log.events.first { $0.status == .deferred })
        #expect(deferred.error?.reason == "quiet hours 21:00-08:00 for marketing messages; deferred to 2026-11-18T08:00:00.000-05:00")
        let invalid = try #require(log.events.first { $0.status == .invalid })
        #expect(invalid.error?.code == "unknown_time_zone")

        let local = try await OneOffSend(run).send([row(4, sendAt: "2026-11-18 07:00", timeZone: "America/New_York")], batchID: "c")
        #expect(local.counts == [.channel(.sms): [.status(.scheduled): 1]])
        let waiting = try #require(try await run.spool?.entries().first { $0.row == 4 })
        #expect(Timestamp.iso8601(waiting.nextAttempt, timeZone: TimeZone(identifier: "America/New_York")!) == "2026-11-18T07:00:00.000-05:00")
    }

    @Test func aBadSendAtIsInvalidWithItsReason() async throws {
        let clock = ManualClock(start: Self.start)
        let (run, transport, log, _) = try run(clock: clock)
        let summary = try await OneOffSend(run).send([row(1, sendAt: "next tuesday"), row(2, sendAt: "2099-01-01 09:00")], batchID: "b")
        #expect(summary.counts == [.channel(.sms): [.status(.invalid): 2]])
        #expect(transport.sent.isEmpty)
        #expect(log.events.map { $0.error?.code } == ["invalid_send_at", "invalid_send_at"])
        #expect(log.events.last?.error?.reason == "send_at '2099-01-01 09:00' is more than a year ahead")
    }

    @Test func aJSONBatchsSendAtAppliesToRowsWithoutTheirOwn() throws {
        let workspace = try TemporaryWorkspace(files: [
            "templates/code.yaml": "sms: {channel: aliyun, api_template_id: SMS_1, content: \"验证码{code}\"}\n",
            "recipients/inbox/b.json": """
                {"template": "code", "send_at": "2026-12-01 09:00",
                 "recipients": [{"mobile": "13800138000", "params": {"code": "1"}},
                                {"mobile": "13800138001", "send_at": "2026-12-02T10:00:00+08:00", "timezone": "Asia/Tokyo", "params": {"code": "2"}}]}
                """,
        ])
        let (catalog, _) = TemplateCatalog.load(from: workspace.url)
        let reader = try BatchReaders.open(workspace.url.appendingPathComponent("recipients/inbox/b.json"), catalog: catalog)
        var rows: [RecipientRow] = []
        while let record = try reader.next() { if case let .row(row) = record { rows.append(row) } }
        #expect(rows.map(\.sendAt) == ["2026-12-01 09:00", "2026-12-02T10:00:00+08:00"])
        #expect(rows.map(\.recipient.timeZone) == [nil, "Asia/Tokyo"])
        #expect(rows.allSatisfy { $0.parameters["send_at"] == nil && $0.parameters["timezone"] == nil }, "reserved, not parameters")
    }
}
