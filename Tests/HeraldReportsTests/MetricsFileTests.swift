import Foundation
import HeraldCore
import HeraldTestSupport
import Testing
@testable import HeraldReports

@Suite(.timeLimit(.minutes(1))) struct MetricsFileTests {
    static let now = Timestamp.parse("2026-11-26T18:00:00+08:00")!

    @Test func countsNewLinesOnceAndWritesThePrometheusText() throws {
        var log = try LogFixture()
        log.add("2026-11-26T10:00:00.000+08:00", LogFixture.id(1), "deferred", latency: 100, code: "451", message: "later")
        log.add("2026-11-26T10:05:00.000+08:00", LogFixture.id(1), "sent", attempt: 2, latency: 300)
        log.add("2026-11-26T10:06:00.000+08:00", LogFixture.id(2), "invalid", channel: nil, account: nil, code: "invalid_email", message: "bad")
        try log.write()
        let root = log.workspace.url
        try log.workspace.write("outbox/spool/a.json", "{}")
        try log.workspace.write("outbox/spool/dead/b.json", "{}")
        try log.workspace.write("outbox/spool/dead/c.json", "{}")
        let runAt = Date(timeIntervalSince1970: 1_795_690_000)
        let first = try MetricsFile.update(root: root, timeZone: LogFixture.zone, lastRun: runAt, now: Self.now)
        #expect(first == (try String(contentsOf: root.appendingPathComponent("reports/metrics.prom"), encoding: .utf8)))
        #expect(first.contains("herald_messages_total{channel=\"mail\",status=\"sent\"} 1\n"))
        #expect(first.contains("herald_messages_total{channel=\"mail\",status=\"deferred\"} 1\n"))
        #expect(first.contains("herald_messages_total{channel=\"none\",status=\"invalid\"} 1\n"))
        #expect(first.contains("herald_send_latency_seconds{channel=\"mail\",quantile=\"0.5\"} 0.100"))
        #expect(first.contains("herald_send_latency_seconds{channel=\"mail\",quantile=\"0.99\"} 0.300"))
        #expect(first.contains("herald_send_latency_seconds_sum{channel=\"mail\"} 0.4\n"))
        #expect(first.contains("herald_send_latency_seconds_count{channel=\"mail\"} 2\n"))
        #expect(first.contains("herald_spool_messages{state=\"pending\"} 1\n"))
        #expect(first.contains("herald_spool_messages{state=\"dead\"} 2\n"))
        #expect(first.contains("herald_last_run_timestamp_seconds 1795690000.000\n"))
        for line in first.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(line.wholeMatch(of: /[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+]+|NaN)/) != nil, "not exposition format: \(line)")
        }

        // Another run appends a line and half of the next one: only the complete line counts.
        let handle = try FileHandle(forWritingTo: root.appendingPathComponent("outbox/log/2026-11-26.jsonl"))
        try handle.seekToEnd()
        let next = #"{"ts":"2026-11-26T11:00:00.000+08:00","message_id":"b","channel":"mail","status":"sent","attempt":1,"latency_ms":10}"#
        try handle.write(contentsOf: Data((next + "\n" + #"{"ts":"2026-11-26T11:00:01.000+08:00","#).utf8))
        let second = try MetricsFile.update(root: root, timeZone: LogFixture.zone, now: Self.now)
        #expect(second.contains("herald_messages_total{channel=\"mail\",status=\"sent\"} 2\n"))
        #expect(second.contains("herald_send_latency_seconds_count{channel=\"mail\"} 3\n"))
        #expect(second.contains("herald_last_run_timestamp_seconds 1795690000.000\n"))
        #expect(second.contains("herald_log_lines_unreadable_total 0\n"))

        try handle.write(contentsOf: Data(#""message_id":"c","channel":"sms","status":"sent","attempt":1,"latency_ms":10}"#.utf8 + [0x0A]))
        try handle.close()
        let third = try MetricsFile.update(root: root, timeZone: LogFixture.zone, now: Self.now)
        #expect(third.contains("herald_messages_total{channel=\"mail\",status=\"sent\"} 2\n"))
        #expect(third.contains("herald_messages_total{channel=\"sms\",status=\"sent\"} 1\n"))

        // Tomorrow the quantiles start over; the counters do not.
        let tomorrow = try MetricsFile.update(root: root, timeZone: LogFixture.zone, now: Self.now.addingTimeInterval(86_400))
        #expect(tomorrow.contains("herald_send_latency_seconds{channel=\"mail\",quantile=\"0.5\"} NaN\n"))
        #expect(tomorrow.contains("herald_send_latency_seconds_count{channel=\"mail\"} 3\n"))
        #expect(tomorrow.contains("herald_messages_total{channel=\"mail\",status=\"sent\"} 2\n"))
    }
}
