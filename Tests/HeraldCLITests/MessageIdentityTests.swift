import Foundation
import Testing
import HeraldTestSupport

/// Batch identity, fingerprints and the ledger against the logs: a row handed to Herald is sent
/// once, or stopped with a reason — never skipped as a duplicate it is not.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct MessageIdentityTests {
    static let files = [
        "herald.yaml": TemporaryWorkspace.sampleConfiguration + "log: {recipients: full}\n",
        "templates/order_shipped.yaml": "mail: {account: default, title: \"订单 {orderId} 已发货\", text: \"{name}：订单 {orderId} 已发货\"}\n",
        "templates/coupon_expiring.yaml": "mail: {account: default, title: \"优惠券 {orderId} 即将过期\", text: \"{name}：优惠券 {orderId}\"}\n",
    ]
    static let rows = "email,name,orderId\nli@example.com,李雷,A1\nhan@example.com,韩梅梅,A2\n"

    func workspace(_ extra: [String: String] = [:]) throws -> TemporaryWorkspace {
        try TemporaryWorkspace(files: Self.files.merging(extra) { _, new in new })
    }

    @Test func theSameBytesUnderTwoTemplatesAreTwoBatches() throws {
        let workspace = try workspace(["recipients/inbox/order_shipped.a.csv": Self.rows,
                                       "recipients/inbox/coupon_expiring.a.csv": Self.rows])
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix("""
            channel  sent  total
            mail        4      4
            total       4      4

            """), "\(result.stdout)")
        let sent = try workspace.logEvents().filter { $0["status"] as? String == "sent" }
        #expect(sent.compactMap { $0["template"] as? String }.sorted() == ["coupon_expiring", "coupon_expiring", "order_shipped", "order_shipped"])
    }

    @Test func theSameListUnderANewNameIsANewBatch() throws {
        let workspace = try workspace(["recipients/inbox/order_shipped.2026-11-30.csv": Self.rows])
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        try workspace.write("recipients/inbox/order_shipped.2026-12-07.csv", Self.rows)
        let again = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(again.stdout.contains("mail        2      2"), "\(again.stdout)")
        #expect(!again.stdout.contains("duplicate"))
        #expect(try workspace.logEvents().filter { $0["status"] as? String == "sent" }.count == 4)
    }

    @Test func aReDropIsCountedAsDuplicatesInTheSummaryAndOneBatchLine() throws {
        let workspace = try workspace(["recipients/inbox/order_shipped.a.csv": Self.rows])
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        try workspace.write("recipients/inbox/order_shipped.a.csv", Self.rows)
        let again = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(again.status == 0)
        #expect(again.stdout.hasSuffix("""
            channel  duplicate  total
            mail             2      2
            total            2      2

            """), "\(again.stdout)")
        let lines = try workspace.logEvents()
        try #require(lines.count == 3, "two sent lines and one batch line, nothing per duplicate message")
        let note = try #require(lines.last)
        #expect(note["event"] as? String == "batch")
        #expect(note["count"] as? Int == 2)
        #expect(note["file"] as? String == "order_shipped.a.csv")
        #expect((note["error"] as? [String: Any])?["message"] as? String
                == "2 messages of 2 rows were already handed over by an earlier run of this batch; they were not sent again")

        let report = try runHerald(["report", "--date", "today", "--format", "csv"], in: workspace.url)
        #expect(report.status == 0, "\(report.stderr)")
        let day = try #require(try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("reports").path)
            .first { $0.first?.isNumber == true })
        let summary = try workspace.read("reports/\(day)/channels.csv")
        #expect(summary.contains("mail,2,2,"), "the batch line changes no message's status: \(summary)")
    }

    static func jsonBatch(id: String, template: String, email: String) -> String {
        """
        {"id": "\(id)", "template": "\(template)", "recipients": [{"email": "\(email)", "params": {"name": "李雷", "orderId": "A1"}}]}
        """
    }

    @Test func aDeclaredIDReusedWithOtherContentIsAConflictNotADuplicate() throws {
        let workspace = try workspace(["recipients/inbox/first.json": Self.jsonBatch(id: "campaign-7", template: "order_shipped",
                                                                                     email: "li@example.com")])
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        try workspace.write("recipients/inbox/second.json", Self.jsonBatch(id: "campaign-7", template: "coupon_expiring",
                                                                           email: "wang@example.com"))
        let second = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(second.status == 1, "a conflict is invalid: exit 1")
        #expect(second.stdout.hasSuffix("""
            channel  invalid  total
            mail           1      1
            total          1      1

            """), "\(second.stdout)")
        let lines = try workspace.logEvents()
        try #require(lines.count == 2)
        let first = lines[0], conflict = lines[1]
        #expect(first["status"] as? String == "sent")
        #expect(conflict["status"] as? String == "invalid")
        #expect(conflict["message_id"] as? String != first["message_id"] as? String,
                "the conflict has an id of its own, so the sent message's final status stays sent")
        let error = try #require(conflict["error"] as? [String: Any])
        #expect(error["code"] as? String == "id_conflict")
        #expect(error["stage"] as? String == "load")
        #expect(error["message"] as? String == """
            batch id 'campaign-7' was already used by 'first.json', whose row 1 was sent as message \(first["message_id"] as? String ?? "") \
            with another template, address or parameters; this row was not sent. Give a batch with new content a new id
            """)
        #expect(!workspace.exists("outbox/sent/mail/second"), "nothing of the second batch was sent")
    }

    @Test func aDeclaredIDReusedWithTheSameContentIsADuplicate() throws {
        let batch = Self.jsonBatch(id: "campaign-8", template: "order_shipped", email: "li@example.com")
        let workspace = try workspace(["recipients/inbox/first.json": batch])
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        try workspace.write("recipients/inbox/renamed.json", batch)
        let second = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(second.status == 0)
        #expect(second.stdout.contains("mail             1      1"), "\(second.stdout)")
        #expect(second.stdout.contains("duplicate"))
    }

    @Test func aLostLedgerStopsTheRunUntilItIsRebuiltFromTheLogs() throws {
        let workspace = try workspace(["recipients/inbox/first.json": Self.jsonBatch(id: "c9", template: "order_shipped",
                                                                                     email: "li@example.com")])
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.removeItem(at: workspace.url.appendingPathComponent("outbox/herald.sqlite\(suffix)"))
        }
        try workspace.write("recipients/inbox/again.json", Self.jsonBatch(id: "c9", template: "order_shipped", email: "li@example.com"))
        let refused = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(refused.status == 2)
        #expect(refused.stderr == """
            herald: outbox/herald.sqlite holds no ledger (or its rebuild did not finish), but outbox/log/ holds 1 day of earlier runs: the database was lost or \
            replaced, and sending now could send those messages again. Run `herald ledger rebuild` to rebuild the ledger from the \
            logs, then run again

            """)
        #expect(workspace.exists("recipients/inbox/again.json"), "nothing was taken")

        let rebuild = try runHerald(["ledger", "rebuild"], in: workspace.url)
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(rebuild.stdout == "rebuilt the ledger from 1 log lines in 1 file: 1 messages recorded, 0 unreadable lines passed over\n")

        let after = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(after.status == 0, "\(after.stdout)\(after.stderr)")
        #expect(after.stdout.contains("duplicate"), "dedup survives the loss: \(after.stdout)")

        try workspace.write("recipients/inbox/other.json", Self.jsonBatch(id: "c9", template: "order_shipped", email: "x@example.com"))
        let conflict = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(conflict.status == 1, "the fingerprint came back from the log too: \(conflict.stdout)")
        #expect(try workspace.logEvents().last?["error"].flatMap { ($0 as? [String: Any])?["code"] as? String } == "id_conflict")
    }
}

extension MessageIdentityTests {
    @Test func aDeclaredIDIsShortAndPrintable() throws {
        let long = String(repeating: "x", count: 201)
        let workspace = try workspace([
            "recipients/inbox/long.json": Self.jsonBatch(id: long, template: "order_shipped", email: "li@example.com"),
            "recipients/inbox/control.json": #"{"id": "a\u0000b", "template": "order_shipped", "recipients": [{"email": "li@example.com", "params": {"name": "x", "orderId": "1"}}]}"#,
        ])
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.status == 1)
        #expect(result.stdout == """
            control.json: rejected → recipients/rejected/control.json.error.txt: "id": a batch id cannot hold control characters (NUL, newline, tab…)
            long.json: rejected → recipients/rejected/long.json.error.txt: "id": a batch id has 1 to 200 characters; this one has 201

            """)
        let send = try runHerald(["send", "--template", "order_shipped", "--to", "mail:li@example.com", "--id", long,
                                  "--param", "name=x", "--param", "orderId=1"], in: workspace.url)
        #expect(send.status == 2)
    }
}
