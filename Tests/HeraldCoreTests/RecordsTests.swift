import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct JSONLinesLogTests {

    @Test func appendsOneParsableLinePerEventIntoTheFileOfItsDay() throws {
        let workspace = try TemporaryWorkspace()
        let shanghai = try #require(TimeZone(identifier: "Asia/Shanghai"))
        let late = Date(timeIntervalSince1970: 1_795_017_599) // 23:59:59 in Shanghai on 2026-11-18
        let id = MessageID("0123456789abcdef000000000001" + "0002")
        let event = LogEvent(timestamp: late, messageID: id, batch: "b", file: "订单.csv", row: 1, line: 2, template: "t",
                             channel: .mail, recipient: "l***@example.com", status: .failed,
                             error: PipelineError(stage: .send, file: "订单.csv", line: 2, row: 1, code: "550", reason: "5.1.1 \"no\" such\nuser"))
        do {
            let log = try JSONLinesLog(directory: workspace.url, timeZone: shanghai)
            try log.append([event, LogEvent(timestamp: late.addingTimeInterval(1), messageID: id, batch: "b", file: "f", status: .sent)])
            try log.flush()
        }
        let log = try JSONLinesLog(directory: workspace.url, timeZone: shanghai)
        try log.append([event])
        try log.flush()
        let first = try workspace.read("2026-11-18.jsonl").split(separator: "\n")
        #expect(first.count == 2, "a second log instance appends, never rewrites")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(first[0].utf8)) as? [String: Any])
        #expect(object["file"] as? String == "订单.csv")
        #expect((object["error"] as? [String: Any])?["message"] as? String == "5.1.1 \"no\" such\nuser")
        #expect(object["ts"] as? String == "2026-11-18T23:59:59.000+08:00")
        #expect(try workspace.read("2026-11-19.jsonl").contains("\"status\":\"sent\""))
    }

    @Test func masking() {
        #expect(RecipientMasking.masked.apply("li.lei@example.com", channel: .mail) == "l***@example.com")
        #expect(RecipientMasking.masked.apply("+8613800138000", channel: .sms) == "+86138****8000")
        #expect(RecipientMasking.masked.apply("oAbCdEfGhIjKlMn", channel: .wechatMP) == "oAbC***KlMn")
        #expect(RecipientMasking.full.apply("li@example.com", channel: .mail) == "li@example.com")
    }
}

@Suite(.timeLimit(.minutes(1))) struct InboxTests {
    @Test func takesOnlySettledCompleteFilesInNameOrder() throws {
        let workspace = try TemporaryWorkspace(files: [
            "recipients/inbox/b.csv": "x", "recipients/inbox/a.json": "x", "recipients/inbox/c.csv.tmp": "x",
            "recipients/inbox/.hidden.csv": "x", "recipients/inbox/sub/d.csv": "x", "recipients/inbox/young.csv": "x",
        ])
        let old = Date().addingTimeInterval(-60)
        for name in ["b.csv", "a.json", "c.csv.tmp"] {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: workspace.url.appendingPathComponent("recipients/inbox/\(name)").path)
        }
        let dropFolder = DropFolder(root: workspace.url, settle: .seconds(2))
        let (ready, settling) = try dropFolder.scan()
        #expect(ready.map(\.lastPathComponent) == ["a.json", "b.csv"])
        #expect(settling == ["young.csv"])
    }

    @Test func movesNeverOverwriteAndRejectionsExplainThemselves() throws {
        let workspace = try TemporaryWorkspace(files: ["recipients/inbox/a.csv": "1", "recipients/processed/a.csv": "0"])
        let dropFolder = DropFolder(root: workspace.url, settle: .zero)
        let moved = try dropFolder.markProcessed(workspace.url.appendingPathComponent("recipients/inbox/a.csv"))
        #expect(moved.lastPathComponent == "a.1.csv")
        #expect(try workspace.read("recipients/processed/a.csv") == "0")
        #expect(try workspace.read("recipients/processed/a.1.csv") == "1")

        try workspace.write("recipients/inbox/g.csv", "bad")
        try dropFolder.reject(workspace.url.appendingPathComponent("recipients/inbox/g.csv"),
                         because: BatchRejection(line: 3, reason: "not valid UTF-8 text"),
                         at: Date(timeIntervalSince1970: 1_795_000_000), timeZone: TimeZone(identifier: "Asia/Shanghai")!)
        #expect(try workspace.read("recipients/rejected/g.csv") == "bad")
        #expect(try workspace.read("recipients/rejected/g.csv.error.txt") == """
            herald could not read g.csv (rejected at 2026-11-18T19:06:40.000+08:00)

            line 3: not valid UTF-8 text

            Nothing in this file was sent. Fix it and drop it into recipients/inbox/ again.

            """)
        #expect(!workspace.exists("recipients/inbox/g.csv"))
    }

    @Test func oneRunAtATime() throws {
        let workspace = try TemporaryWorkspace()
        let lock = try RunLock(root: workspace.url)
        #expect(throws: RunLockError.self) { try RunLock(root: workspace.url) }
        withExtendedLifetime(lock) {}
    }
}

/// ISO 8601 times as operators and logs write them: impossible ones are refused, not normalised.
@Suite(.timeLimit(.minutes(1))) struct TimestampValidityTests {
    @Test(arguments: ["2026-12-01T08:00:00+08:00", "2026-12-01T08:00:00.123Z", "2024-02-29T00:00:00Z", "2026-12-01T08:00:00-03:30"])
    func validTimesParse(text: String) {
        #expect(Timestamp.parse(text) != nil)
    }

    @Test(arguments: ["2026-12-01T08:00:00+99:99", "2026-12-01T08:00:00+08:60", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
                      "0000-01-01T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z"])
    func impossibleTimesAreRefused(text: String) {
        #expect(Timestamp.parse(text) == nil)
    }
}
