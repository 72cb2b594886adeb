import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// Escalations and digests through the built binary: the real SQLite inbox, the file transport.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct TimeDeliveryRunTests {
    @Test func anUnread站内信EscalatesToSMSAndAReadOneDoesNot() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "inbox: {settle: 0s}\ncaps: {sms: [none]}\nsms:\n  channels:\n    aliyun: {transport: file, signature: 云商城}\n",
            "templates/alert.yaml": """
                site: {content: "您的订单 {orderId} 待支付"}
                sms: {channel: aliyun, api_template_id: SMS_9, content: "订单{orderId}待支付"}
                escalate:
                  - {after: 2s, unless: read, to: [sms]}

                """,
            "recipients/inbox/alert.a.csv": "user_id,mobile,orderId\n1,13800138001,A1\n2,13800138002,A2\n",
        ])
        let first = try runHerald(["run"], in: workspace.url)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(!workspace.exists("outbox/sent/sms"), "no SMS goes with the 站内信")
        let list = try runHerald(["inbox", "list", "--user", "1", "--json"], in: workspace.url)
        let items = try #require((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["items"] as? [[String: Any]])
        let id = try #require(items.first?["id"] as? String)
        #expect(try runHerald(["inbox", "read", "--user", "1", id], in: workspace.url).status == 0)

        Thread.sleep(forTimeInterval: 2.2)
        let later = try runHerald(["run"], in: workspace.url)
        #expect(later.stdout.contains("spool: 2 due messages tried again"), "\(later.stdout)")
        let sent = try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("outbox/sent/sms/alert.a").path)
        #expect(sent.count == 1, "only the unread user's SMS: \(sent)")
        let body = try String(contentsOf: workspace.url.appendingPathComponent("outbox/sent/sms/alert.a/\(sent[0])"), encoding: .utf8)
        #expect(body.contains("13800138002") && body.contains("订单A2待支付"))
        let events = try workspace.logEvents()
        let skipped = try #require(events.first { $0["status"] as? String == "skipped" })
        #expect((skipped["error"] as? [String: Any])?["code"] as? String == "escalation_not_needed")
        #expect(events.first { $0["status"] as? String == "sent" && $0["channel"] as? String == "sms" }?["escalated_from"] != nil)
    }
}
