import Foundation
import HeraldCore
import Testing
@testable import HeraldReports

@Suite(.timeLimit(.minutes(1))) struct ReportOutputTests {
    @Test func csvCellsAreNeutralisedAndQuoted() {
        #expect(CSVTables.cell("=HYPERLINK(\"http://x\")") == "\"'=HYPERLINK(\"\"http://x\"\")\"")
        #expect(CSVTables.cell("+86 138") == "'+86 138")
        #expect(CSVTables.cell("-1") == "'-1")
        #expect(CSVTables.cell("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSVTables.cell("\tx") == "'\tx")
        #expect(CSVTables.cell("订单, 发货") == "\"订单, 发货\"")
        #expect(CSVTables.cell("a=b") == "a=b")
        #expect(CSVTables.cell("12") == "12")
    }

    @Test func csvFilesStartWithABomAndCarryTheFigures() throws {
        var log = try LogFixture()
        log.add("2026-11-26T10:00:00.000+08:00", LogFixture.id(1), "failed", latency: 5, code: "550",
                message: "=cmd|' /C calc' rejected")
        log.add("2026-11-26T10:00:01.000+08:00", LogFixture.id(2), "sent", template: "=1+1", latency: 5)
        let report = try log.report("2026-11-26")
        let files = Dictionary(uniqueKeysWithValues: CSVTables.files(for: report).map { ($0.name, $0.contents) })
        #expect(files.keys.sorted() == ["accounts.csv", "channels.csv", "failures.csv", "hours.csv", "latency.csv", "summary.csv", "templates.csv"])
        for (name, data) in files {
            #expect(Array(data.prefix(3)) == [0xEF, 0xBB, 0xBF], "\(name) has no BOM")
        }
        let failures = String(decoding: try #require(files["failures.csv"]).dropFirst(3), as: UTF8.self)
        #expect(failures == "status,channel,code,message,count,example_message_id\r\nfailed,mail,550,'=cmd|'…' rejected,1,\(LogFixture.id(1))\r\n")
        let templates = String(decoding: try #require(files["templates.csv"]).dropFirst(3), as: UTF8.self)
        #expect(templates.contains("\r\n'=1+1,,1,1,0,0,0,0,0,0,0,1,0,1.0000,,1,"))
        #expect(templates.contains("\r\norder_shipped,订单发货通知,1,0,0,0,1,"))
        let channels = String(decoding: try #require(files["channels.csv"]).dropFirst(3), as: UTF8.self)
        #expect(channels.hasPrefix("channel,total,sent,delivered,undelivered,failed,invalid,suppressed,skipped,deferred_pending,attempts,retried,success_rate,delivery_rate,latency_count,latency_p50_s,latency_p90_s,latency_p99_s,latency_max_s\r\nmail,2,1,0,0,1,0,0,0,0,2,0,0.5000,,2,0.005,0.005,0.005,0.005\r\n"))
        let hours = String(decoding: try #require(files["hours.csv"]).dropFirst(3), as: UTF8.self)
        #expect(hours.contains("\r\n2026-11-26,10,2,1,0,0,1,0,0,0,0\r\n"))
    }

    @Test func htmlIsSelfContainedEscapedAndChinese() throws {
        var log = try LogFixture()
        log.add("2026-11-26T10:00:00.000+08:00", LogFixture.id(1), "sent", template: "<script>alert(1)</script>", latency: 12)
        log.add("2026-11-26T10:00:01.000+08:00", LogFixture.id(2), "failed", latency: 5, code: "550", message: "<b>no</b> 用户不存在")
        let html = HTMLReport.render(try log.report("2026-11-26"))
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
        #expect(html.contains("name=\"viewport\""))
        for external in ["<script", "http://", "https://", "src=", "<link", "@import", "url("] {
            #expect(!html.contains(external), "the page refers to something outside itself: \(external)")
        }
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&lt;…&gt;no&lt;…&gt; 用户不存在"))
        #expect(html.contains("每小时发送量"))
        #expect(html.contains("各渠道成功率"))
        #expect(html.contains("发送延迟分布"))
        #expect(html.contains("主要失败原因"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 3)
        #expect(html.contains(">50.00%<"))
    }

    @Test func theNextDaysReportComparesWithThePreviousOne() throws {
        var log = try LogFixture()
        log.add("2026-11-26T10:00:00.000+08:00", LogFixture.id(1), "sent", latency: 5)
        log.add("2026-11-26T10:00:00.000+08:00", LogFixture.id(2), "sent", latency: 5)
        log.add("2026-11-27T10:00:00.000+08:00", LogFixture.id(3), "sent", latency: 5)
        log.add("2026-11-27T10:00:00.000+08:00", LogFixture.id(4), "failed", latency: 5, code: "550", message: "no")
        try log.write()
        let root = log.workspace.url
        let out = root.appendingPathComponent("reports")
        let first = try ReportFiles.make(root: root, period: ReportPeriod(day: LogFixture.day("2026-11-26")), timeZone: LogFixture.zone,
                                         formats: [.html, .csv], out: out)
        #expect(first.report.previous == nil)
        #expect(first.files.contains("report.html"))
        let second = try ReportFiles.make(root: root, period: ReportPeriod(day: LogFixture.day("2026-11-27")), timeZone: LogFixture.zone,
                                          formats: [.html], out: out)
        #expect(second.files == ["report.html", "summary.json"])
        let previous = try #require(second.report.previous)
        #expect(previous.period == "2026-11-26")
        #expect(previous.overall.counts.total == 2)
        let html = try String(contentsOf: second.folder.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("较前期 ▼ 50.00 个百分点"))
        #expect(html.contains("对比 2026-11-26"))
        #expect(!FileManager.default.fileExists(atPath: second.folder.appendingPathComponent("channels.csv").path))
    }

    @Test func scannerDecodesEscapes() throws {
        let line = #"{"ts":"2026-11-26T10:00:00Z","message_id":"x","status":"failed","template":"a\"b","error":{"code":"c\\d","message":"\u4e2d\u6587 \ud83d\ude00 \/ ok"}}"#
        let bytes = Array(line.utf8)
        try bytes.withUnsafeBufferPointer { buffer in
            let scanned = try LogLineScanner.scan(buffer)
            let cursor = Cursor(bytes: buffer)
            #expect(cursor.decoded(scanned.template) == "a\"b")
            #expect(cursor.decoded(try #require(scanned.errorCode)) == "c\\d")
            #expect(cursor.decoded(try #require(scanned.errorMessage)) == "中文 😀 / ok")
            #expect(scanned.epochMilliseconds == 1_795_687_200_000)
            #expect(scanned.localHour == 10)
        }
    }
}
