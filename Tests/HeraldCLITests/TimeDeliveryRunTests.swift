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

        // Three seconds later, by the binary's test clock: no waiting.
        let later = try runHerald(["run"], in: workspace.url, environment: ["HERALD_TEST_CLOCK_OFFSET": "3"])
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

    @Test func twentyRowsForOneUserWithinAWindowArriveAsOneMailListingTwenty() throws {
        let rows = (1...20).map { "10001,li@example.com,A\($0)" } + ["10002,han@example.com,B1"]
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "inbox: {settle: 0s}\nmail:\n  accounts:\n    default: {transport: file, from: noreply@shop.example.com}\n",
            "templates/shipped.yaml": """
                mail: {account: default, title: "您有 {digest_count} 个订单已发货", text: "{digest_items}"}
                digest: {window: 2s, key: user_id, item: "订单 {orderId} 已发货", separator: "\\n", max: 50}

                """,
            "recipients/inbox/shipped.a.csv": "user_id,email,orderId\n" + rows.joined(separator: "\n") + "\n",
        ])
        let first = try runHerald(["run"], in: workspace.url)
        #expect(first.status == 0 && first.stdout.contains("digested"), "\(first.stdout)\(first.stderr)")
        #expect(!workspace.exists("outbox/sent/mail"), "nothing is sent while the window is open")
        let later = try runHerald(["run"], in: workspace.url, environment: ["HERALD_TEST_CLOCK_OFFSET": "3"])
        #expect(later.stdout.contains("digests: 2 sent"), "\(later.stdout)\(later.stderr)")
        let folder = workspace.url.appendingPathComponent("outbox/sent/mail/shipped.a")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".eml") }
        #expect(files.count == 2, "one mail per user")
        let mails = try files.map { try parseWithPython(Data(contentsOf: folder.appendingPathComponent($0))) }
        let li = try #require(mails.first { $0.to.contains("li@example.com") })
        #expect(li.subject == "您有 20 个订单已发货")
        #expect(li.text?.replacingOccurrences(of: "\r\n", with: "\n").trimmingCharacters(in: .newlines) == (1...20).map { "订单 A\($0) 已发货" }.joined(separator: "\n"))
        #expect(mails.first { $0.to.contains("han@example.com") }?.subject == "您有 1 个订单已发货")
        let events = try workspace.logEvents()
        #expect(events.filter { $0["status"] as? String == "digested" }.count == 21)
        #expect(Set(events.compactMap { $0["digest"] as? String }).count == 2)
        let again = try runHerald(["run"], in: workspace.url)
        #expect(!again.stdout.contains("digests:"), "sent once: \(again.stdout)")
    }
}
