import Foundation
import Testing
import HeraldTestSupport

/// `herald run` sending SMS through Aliyun and Tencent Cloud as spoken by a local server on
/// 127.0.0.1 (the providers' documented wire formats, signatures checked), then receipts.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct SMSRunLocalWireFormatTests {
    @Test func failoverSpoolingAndReceipts() throws {
        let server = try SMSProviderTestServer()
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": """
                caps: {sms: [none]}
                log: {recipients: full}
                \(server.channelsYAML)
                """,
            "templates/order_shipped.yaml": "sms: {channel: [aliyun, tencent], api_template_id: SMS_1, content: \"订单{orderId}已发货\"}\n",
            "recipients/inbox/order_shipped.csv": "mobile,orderId\n13800130000,A1\n13800130001,A2\n13800130003,A3\n",
        ])
        let environment = SMSProviderTestServer.environment
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: environment)
        #expect(run.stdout.contains("sms         2         1      3"), "\(run.stdout)\(run.stderr)")
        #expect(run.status == 0)
        #expect(try server.requests().allSatisfy { $0.signatureValid && $0.problems.isEmpty })
        let spooled = try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("outbox/spool").path)
            .filter { $0.hasSuffix(".json") }
        #expect(spooled.count == 1, "both channels throttled: the message waits in the spool")

        let lines = try workspace.logEvents()
        let first = try #require(lines.first { $0["recipient"] as? String == "+8613800130000" })
        let second = try #require(lines.first { $0["recipient"] as? String == "+8613800130001" })
        let bizID = try #require((first["provider_id"] as? String)?.replacingOccurrences(of: "aliyun:", with: ""))
        let serial = try #require((second["provider_id"] as? String)?.replacingOccurrences(of: "tencent:", with: ""))
        #expect((second["provider_id"] as? String)?.hasPrefix("tencent:") == true, "the throttled Aliyun send failed over to Tencent")

        try workspace.write("recipients/inbox/receipts/aliyun/report-1.json", """
            [{"phone_number": "13800130000", "send_time": "2026-11-27 13:00:01", "report_time": "2026-11-27 13:00:05", "success": true,
              "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "\(bizID)", "out_id": ""}]
            """)
        try workspace.write("recipients/inbox/receipts/tencent/report-1.json", """
            [{"user_receive_time": "2026-11-27 13:00:06", "nationcode": "86", "mobile": "13800130001", "report_status": "FAIL",
              "errmsg": "MK:0001", "description": "用户关机", "sid": "\(serial)"},
             {"user_receive_time": "2026-11-27 13:00:06", "nationcode": "86", "mobile": "13800130009", "report_status": "SUCCESS",
              "errmsg": "DELIVRD", "description": "", "sid": "9999:unknown"}]
            """)
        let ingest = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: environment)
        #expect(ingest.stdout.contains("receipts/aliyun/report-1.json: 1 delivered, 0 undelivered, 0 duplicate, 0 unmatched"), "\(ingest.stdout)")
        #expect(ingest.stdout.contains("receipts/tencent/report-1.json: 0 delivered, 1 undelivered, 0 duplicate, 1 unmatched"))
        let statuses = try workspace.logEvents().filter { $0["file"] as? String == "receipts" }.map { $0["status"] as? String }
        #expect(statuses == ["delivered", "undelivered"])
        #expect(workspace.exists("recipients/processed/receipts/aliyun/report-1.json"))
        let unmatched = try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("recipients/unmatched-receipts/tencent").path)
        #expect(unmatched.count == 1, "an unknown serial is kept, not dropped")

        let duplicate = workspace.url.appendingPathComponent("again.json")
        try FileManager.default.copyItem(at: workspace.url.appendingPathComponent("recipients/processed/receipts/aliyun/report-1.json"), to: duplicate)
        let again = try runHerald(["receipts", "ingest", duplicate.path, "--channel", "aliyun"], in: workspace.url, environment: environment)
        #expect(again.stdout == "0 delivered, 0 undelivered, 1 duplicate, 0 unmatched\n")
    }
}
