import Foundation
import HeraldCore
import Testing
@testable import HeraldReports

@Suite(.timeLimit(.minutes(1))) struct ReportBuilderTests {
    /// One day with a retried message, receipts, an invalid row, two failures of the same kind,
    /// a late receipt and an unreadable line.
    static func busyDay() throws -> LogFixture {
        var log = try LogFixture()
        let a = LogFixture.id(1), b = LogFixture.id(2), c = LogFixture.id(3), d = LogFixture.id(4)
        // a: deferred twice (451), then sent: one message, three attempts.
        log.add("2026-11-26T10:00:00.000+08:00", a, "deferred", latency: 100, code: "451", message: "try again later")
        log.add("2026-11-26T10:05:00.000+08:00", a, "deferred", attempt: 2, latency: 80, code: "451", message: "try again later")
        log.add("2026-11-26T10:10:00.000+08:00", a, "sent", attempt: 3, latency: 50)
        // b: sent at once in 20 ms.
        log.add("2026-11-26T11:00:00.000+08:00", b, "sent", latency: 20)
        // c, d: permanent failures differing only in the quoted address.
        log.add("2026-11-26T11:00:01.000+08:00", c, "failed", latency: 30, code: "550", message: "mailbox 'c@example.com' unavailable")
        log.add("2026-11-26T11:00:02.000+08:00", d, "failed", latency: 40, code: "550", message: "mailbox 'd@example.com' unavailable")
        // e, f: SMS with receipts, delivered and undelivered; g: a receipt for an earlier day's send.
        let e = LogFixture.id(5, channel: 3), f = LogFixture.id(6, channel: 3), g = LogFixture.id(7, channel: 3, batch: "00000000000000aa")
        log.add("2026-11-26T12:00:00.000+08:00", e, "sent", template: "verify_code", channel: "sms", account: "aliyun", latency: 200)
        log.add("2026-11-26T12:00:00.500+08:00", f, "sent", template: "verify_code", channel: "sms", account: "aliyun", latency: 300)
        log.add("2026-11-26T12:01:00.000+08:00", e, "delivered", template: "verify_code", channel: "sms", account: "aliyun", file: "receipts")
        log.add("2026-11-26T12:01:30.000+08:00", f, "undelivered", template: "verify_code", channel: "sms", account: "aliyun", file: "receipts",
                code: "MK:0001", message: "用户关机")
        log.add("2026-11-26T12:02:00.000+08:00", g, "delivered", template: "verify_code", channel: "sms", account: "aliyun", file: "receipts")
        // h: an invalid row that never reached a channel.
        log.add("2026-11-26T13:00:00.000+08:00", LogFixture.id(8, channel: 0), "invalid", channel: nil, account: nil,
                code: "invalid_email", message: "email 'li@@example.com' is not a valid address")
        // i: suppressed by preference.
        log.add("2026-11-26T13:00:00.000+08:00", LogFixture.id(9), "suppressed", code: "opted_out", message: "recipient opted out of marketing")
        log.add("2026-11-26T13:00:01.000+08:00", LogFixture.id(10, channel: 0), "invalid", template: "verify_code", channel: nil, account: nil,
                code: "invalid_email", message: "email 'x@@example.com' is not a valid address")
        log.addRaw(day: "2026-11-26", #"{"ts":"2026-11-26T13:30:00.000+08:00","message_id":"#)
        return log
    }

    @Test func countsEachMessageOnceAtItsFinalStatus() throws {
        let report = try Self.busyDay().report("2026-11-26")
        let all = report.overall.counts
        #expect(all.total == 9)
        #expect(all.sent == 4)
        #expect(all.delivered == 1)
        #expect(all.undelivered == 1)
        #expect(all.failed == 2)
        #expect(all.invalid == 2)
        #expect(all.suppressed == 1)
        #expect(all.deferred == 0)
        #expect(all.attempts == 8)
        #expect(all.retried == 1)
        #expect(all.total == all.sent + all.failed + all.invalid + all.suppressed + all.skipped + all.deferred)
        #expect(all.successRate == 4.0 / 6.0)
        #expect(all.deliveryRate == 0.5)

        let mail = try #require(report.channel("mail"))
        #expect(mail.counts.total == 5)
        #expect(mail.counts.sent == 2)
        #expect(mail.counts.failed == 2)
        #expect(mail.counts.suppressed == 1)
        #expect(mail.counts.successRate == 0.5)
        #expect(mail.counts.deliveryRate == nil)
        let sms = try #require(report.channel("sms"))
        #expect(sms.counts.total == 2)
        #expect(sms.counts.deliveryRate == 0.5)
        #expect(report.channels.map(\.key) == ["mail", "sms", "none"])
        #expect(report.accounts.map(\.key) == ["mail/default", "sms/aliyun", "none/none"])
        #expect(report.templates.first?.key == "order_shipped")
        #expect(report.templates.first?.name == "订单发货通知")
        #expect(report.templates.first?.counts.total == 6)
    }

    @Test func severalWorkersLogsCountAsOneWhateverOrderTheyAreReadIn() throws {
        // Worker A deferred message x; worker B sent it later from the shared spool. Worker B
        // also sent y. Read B's log first: x still ends sent, because B's line is later.
        var a = try LogFixture(), b = try LogFixture()
        let x = LogFixture.id(1), y = LogFixture.id(2)
        a.add("2026-11-26T10:00:00.000+08:00", x, "deferred", latency: 100, code: "451", message: "try again later")
        b.add("2026-11-26T10:05:00.000+08:00", x, "sent", attempt: 2, latency: 50)
        b.add("2026-11-26T10:06:00.000+08:00", y, "sent", latency: 20)
        try a.write()
        try b.write()
        let empty = try LogFixture()
        let builder = try ReportBuilder(period: ReportPeriod(day: LogFixture.day("2026-11-26")), timeZone: LogFixture.zone)
        try builder.read(logFolders: [b, a, empty].map { $0.workspace.url.appendingPathComponent("outbox/log") })
        let report = builder.finish()
        #expect(report.overall.counts.total == 2)
        #expect(report.overall.counts.sent == 2 && report.overall.counts.deferred == 0)
        #expect(report.missingDays.isEmpty, "a day one worker has is not missing")
    }

    @Test func aReceiptForAnEarlierSendIsKeptOutOfTheTotals() throws {
        let report = try Self.busyDay().report("2026-11-26")
        #expect(report.lateReceipts.map(\.key) == ["sms"])
        #expect(report.lateReceipts.first?.counts.delivered == 1)
        #expect(report.channel("sms")?.counts.delivered == 1)
    }

    @Test func latencyRunsFromTheFirstAttemptToTheFinalOutcome() throws {
        let report = try Self.busyDay().report("2026-11-26")
        let mail = try #require(report.channel("mail")?.latency)
        // a: 10:10:00.000 − (10:00:00.000 − 0.1 s) = 600.1 s; b 20 ms; c 30 ms; d 40 ms.
        #expect(mail.count == 4)
        #expect(abs(mail.max - 600.1) < 600.1 * 0.001)
        #expect(abs(mail.p50 - 0.030) < 0.030 * 0.001)
        let sms = try #require(report.channel("sms")?.latency)
        #expect(sms.count == 2)
        #expect(abs(sms.max - 0.3) < 0.3 * 0.001)
        #expect(report.channel("none")?.latency == nil)
        #expect(report.latencyBuckets.map(\.count).reduce(0, +) == 6)
        #expect(report.latencyBuckets.first { $0.label == "≤1h" }?.count == 1)
        #expect(report.latencyBuckets.first { $0.label == "≤50ms" }?.count == 3)
        #expect(report.latencyBuckets.first { $0.label == "≤250ms" }?.count == 1)
    }

    @Test func failuresGroupByCodeAndPatternWithAnExample() throws {
        let report = try Self.busyDay().report("2026-11-26")
        let top = try #require(report.failures.first)
        #expect(top.status == .failed)
        #expect(top.channel == "mail")
        #expect(top.code == "550")
        #expect(top.message == "mailbox '…' unavailable")
        #expect(top.count == 2)
        #expect(top.exampleMessageID == LogFixture.id(3))
        #expect(report.failures.contains { $0.status == .invalid && $0.channel == "none" && $0.message == "email '…' is not a valid address" })
        #expect(report.failures.contains { $0.status == .undelivered && $0.code == "MK:0001" && $0.message == "用户关机" })
        // One group per channel, whatever the template: the invalid rows of two templates are one reason.
        #expect(report.failures.filter { $0.code == "invalid_email" }.map(\.count) == [2])
        // The retried message ended sent: its 451s are not a failure reason.
        #expect(!report.failures.contains { $0.code == "451" })
    }

    @Test func failurePatternsHideRecipientsAndTimes() {
        #expect(ReportBuilder.pattern(of: "per-recipient cap 1/min reached for +86138****8000; deferred to 2026-11-27T14:15:17.616+08:00")
                == "per-recipient cap 1/min reached for …; deferred to …")
        #expect(ReportBuilder.pattern(of: "550 5.1.1 <li@example.com>: Recipient address rejected") == "550 5.1.1 <…>: Recipient address rejected")
        #expect(ReportBuilder.pattern(of: "mailbox li@example.com, unknown") == "mailbox …, unknown")
        #expect(ReportBuilder.pattern(of: "用户关机") == "用户关机")
        #expect(ReportBuilder.pattern(of: "openid 'oAbC123' \"x\" ok") == "openid '…' \"…\" ok")
    }

    @Test func volumePerHourUsesEachMessagesFirstLine() throws {
        let report = try Self.busyDay().report("2026-11-26")
        #expect(report.hours.count == 24)
        #expect(report.hours[10].counts.total == 1)
        #expect(report.hours[10].counts.sent == 1)
        #expect(report.hours[11].counts.total == 3)
        #expect(report.hours[11].counts.failed == 2)
        #expect(report.hours[12].counts.total == 2)
        #expect(report.hours[13].counts.total == 3)
        #expect(report.hours.map(\.counts.total).reduce(0, +) == report.overall.counts.total)
    }

    @Test func anUnreadableLineIsNamedAndNotCounted() throws {
        let report = try Self.busyDay().report("2026-11-26")
        #expect(report.linesRead == 15)
        #expect(report.unreadableLines == 1)
        #expect(report.unreadableExamples == ["2026-11-26.jsonl:15: line ends before its last value"])
    }

    @Test func aLastLineStillBeingWrittenIsLeftForLater() throws {
        var log = try LogFixture()
        log.add("2026-11-26T10:00:00.000+08:00", LogFixture.id(1), "sent", latency: 5)
        try log.write()
        let file = log.workspace.url.appendingPathComponent("outbox/log/2026-11-26.jsonl")
        let handle = try FileHandle(forWritingTo: file)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"ts":"2026-11-26T10:00:01.000+08:00","message_id":"#.utf8))
        try handle.close()
        let builder = try ReportBuilder(period: ReportPeriod(day: LogFixture.day("2026-11-26")), timeZone: LogFixture.zone)
        try builder.read(logFolder: log.workspace.url.appendingPathComponent("outbox/log"))
        let report = builder.finish()
        #expect(report.overall.counts.total == 1)
        #expect(report.unreadableLines == 0)
        #expect(report.unfinishedFiles == ["2026-11-26.jsonl"])
        #expect(HTMLReport.render(report).contains("2026-11-26.jsonl 的最后一行尚未写完"))
    }

    @Test func aMessageAcrossMidnightCountsInEachDayAtThatDaysStatus() throws {
        var log = try LogFixture()
        let h = LogFixture.id(10)
        log.add("2026-11-26T23:59:00.000+08:00", h, "deferred", latency: 10, code: "451", message: "greylisted")
        log.add("2026-11-27T00:09:00.000+08:00", h, "sent", attempt: 2, latency: 10)
        log.add("2026-11-27T09:00:00.000+08:00", LogFixture.id(11), "sent", latency: 5)

        let first = try log.report("2026-11-26")
        #expect(first.overall.counts.deferred == 1)
        #expect(first.overall.counts.total == 1)
        #expect(first.failures.first?.status == .deferred)
        #expect(first.failures.first?.message == "greylisted")

        let second = try log.report("2026-11-27")
        #expect(second.overall.counts.total == 2)
        #expect(second.overall.counts.sent == 2)
        // h's first attempt was the day before: no latency is claimed for it.
        #expect(second.overall.latency?.count == 1)

        let both = try log.report("2026-11-26", "2026-11-27")
        #expect(both.overall.counts.total == 2)
        #expect(both.overall.counts.sent == 2)
        #expect(both.overall.counts.retried == 1)
        #expect(both.overall.latency?.count == 2)
        #expect(abs((both.overall.latency?.max ?? 0) - 600.01) < 0.6)
        #expect(both.hours.count == 48)
        #expect(both.hours[23].counts.total == 1)
        #expect(both.hours[33].counts.total == 1)
        #expect(both.missingDays.isEmpty)

        let third = try log.report("2026-11-28")
        #expect(third.overall.counts.total == 0)
        #expect(third.missingDays == ["2026-11-28"])
    }

    @Test func aReceiptDoesNotGiveWayToARepeatedSendLine() throws {
        var log = try LogFixture()
        let id = LogFixture.id(1, channel: 3)
        log.add("2026-11-26T10:00:00.000+08:00", id, "sent", channel: "sms", account: "tencent", latency: 100)
        log.add("2026-11-26T10:00:05.000+08:00", id, "delivered", channel: "sms", account: "tencent", file: "receipts")
        log.add("2026-11-26T10:00:06.000+08:00", id, "sent", channel: "sms", account: "tencent", latency: 100)
        let report = try log.report("2026-11-26")
        #expect(report.overall.counts.total == 1)
        #expect(report.overall.counts.delivered == 1)
    }

    @Test func idsOfAnotherShapeAreStillCountedOnce() throws {
        var log = try LogFixture()
        log.add("2026-11-26T10:00:00.000+08:00", "not-a-herald-id", "deferred", latency: 1, code: "421", message: "busy")
        log.add("2026-11-26T10:01:00.000+08:00", "not-a-herald-id", "failed", attempt: 2, latency: 1, code: "554", message: "rejected")
        let report = try log.report("2026-11-26")
        #expect(report.overall.counts.total == 1)
        #expect(report.overall.counts.failed == 1)
        #expect(report.failures.first?.exampleMessageID == "not-a-herald-id")
    }

    @Test func periodsReadDaysAndRefuseBadOnes() throws {
        let zone = LogFixture.zone
        let now = try #require(Timestamp.parse("2026-11-27T00:30:00+08:00"))
        #expect(Timestamp.day(number: try ReportPeriod.day("today", now: now, timeZone: zone)) == "2026-11-27")
        #expect(Timestamp.day(number: try ReportPeriod.day("yesterday", now: now, timeZone: zone)) == "2026-11-26")
        #expect(throws: ReportError.self) { try ReportPeriod.day("2026-02-30", timeZone: zone) }
        #expect(throws: ReportError.self) { try ReportPeriod.day("26-11-2026", timeZone: zone) }
        let period = ReportPeriod(first: LogFixture.day("2026-11-01"), last: LogFixture.day("2026-11-27"))
        #expect(period.name == "2026-11-01_2026-11-27")
        #expect(period.previous.name == "2026-10-05_2026-10-31")
        #expect(ReportPeriod(day: LogFixture.day("2026-03-01")).previous.name == "2026-02-28")
    }
}
