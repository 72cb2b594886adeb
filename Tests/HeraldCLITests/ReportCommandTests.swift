import Foundation
import Testing
import HeraldTestSupport

/// `herald report` end to end: a real run writes the log, the built binary reports on it.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct ReportCommandTests {
    func ranWorkspace() throws -> (TemporaryWorkspace, day: String) {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": TemporaryWorkspace.sampleConfiguration,
            "templates/order_shipped.yaml": RunCommandTests.template,
            "recipients/inbox/order_shipped.today.csv": RunCommandTests.batch,
        ])
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.status == 1, "two rows are invalid: \(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("order_shipped.today.csv: done"), "\(run.stdout)\(run.stderr)")
        let logs = try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("outbox/log").path)
        let day = try #require(logs.first { $0.hasSuffix(".jsonl") }).replacingOccurrences(of: ".jsonl", with: "")
        return (workspace, day)
    }

    @Test func reportsTheRunJustMade() throws {
        let (workspace, day) = try ranWorkspace()
        let metricsAfterRun = try workspace.read("reports/metrics.prom")
        #expect(metricsAfterRun.contains("herald_messages_total{channel=\"mail\",status=\"sent\"} 3\n"), "\(metricsAfterRun)")
        #expect(metricsAfterRun.contains("herald_messages_total{channel=\"mail\",status=\"invalid\"} 2\n"), "\(metricsAfterRun)")
        #expect(!metricsAfterRun.contains("herald_last_run_timestamp_seconds 0\n"))

        let report = try runHerald(["report", "--date", day], in: workspace.url)
        #expect(report.status == 0, "\(report.stderr)")
        let lines = report.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 7, "\(report.stdout)")
        #expect(lines[0] == "report \(day): 5 messages, 3 sent, 0 failed, 2 invalid; success rate 100.00%, delivery rate -")
        #expect(lines[2].hasPrefix("channel  total  sent  delivered  failed  invalid  suppressed  deferred  success  "))
        #expect(lines[3].hasPrefix("mail         5     3          0       0        2           0         0  100.00%  0.0"))
        #expect(lines[5] == "wrote reports/\(day)/: report.html, summary.csv, channels.csv, templates.csv, accounts.csv, hours.csv, failures.csv, latency.csv, summary.json")
        let failures = try workspace.read("reports/\(day)/failures.csv")
        #expect(failures.contains("invalid,mail,invalid_email,\"email '…' is not a valid address: "), "\(failures)")
        #expect(failures.contains("invalid,mail,missing_parameter,missing required parameter '…' for template '…'; "), "\(failures)")
        let templates = try workspace.read("reports/\(day)/templates.csv")
        #expect(templates.contains("order_shipped,订单发货通知,5,3,"))
        let html = try workspace.read("reports/\(day)/report.html")
        #expect(html.contains("订单发货通知"))
        #expect(html.contains("主要失败原因"))
    }

    @Test func aRangeAndOneFormat() throws {
        let (workspace, day) = try ranWorkspace()
        let report = try runHerald(["report", "--since", "2026-01-01", "--until", day, "--format", "csv", "--out", "nightly"], in: workspace.url)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.hasPrefix("report 2026-01-01 – \(day): 5 messages"))
        #expect(report.stderr.contains("herald report: no log for 2026-01-01 (outbox/log/2026-01-01.jsonl)\n"))
        #expect(workspace.exists("nightly/2026-01-01_\(day)/channels.csv"))
        #expect(!workspace.exists("nightly/2026-01-01_\(day)/report.html"))
    }

    @Test func usageErrorsExit2WithTheReason() throws {
        let workspace = try TemporaryWorkspace(files: ["herald.yaml": TemporaryWorkspace.sampleConfiguration,
                                                       "templates/order_shipped.yaml": RunCommandTests.template])
        let cases: [([String], String)] = [
            (["--date", "2026-13-01"], "herald report: '2026-13-01' is not a day; write YYYY-MM-DD, today or yesterday\n"),
            (["--format", "pdf"], "Error: --format takes html, csv or html,csv; 'pdf' is not one of them\n"),
            (["--date", "today", "--since", "2026-11-01"], "Error: give either --date or --since/--until, not both\n"),
            (["--since", "2026-11-02", "--until", "2026-11-01"], "herald report: --until 2026-11-01 is before --since 2026-11-02\n"),
        ]
        for (arguments, message) in cases {
            let result = try runHerald(["report"] + arguments, in: workspace.url)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.hasPrefix(message), "\(arguments): \(result.stderr)")
        }
    }
}
