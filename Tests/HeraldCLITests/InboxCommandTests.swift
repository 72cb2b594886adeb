import Foundation
import Testing
import HeraldTestSupport

/// `herald run` delivering 站内信 into the inbox, then `herald inbox` and `herald notice` on it.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct InboxCommandTests {
    func workspace() throws -> TemporaryWorkspace {
        try TemporaryWorkspace(files: [
            "herald.yaml": "site: {transport: inbox}\n",
            "templates/order_shipped.yaml": "site: {nickname: 商城助手, type: notification, content: \"{name}，您的订单 {orderId} 已发货\"}\n",
            "recipients/inbox/order_shipped.csv": "user_id,tenant_id,name,orderId\n1,0,李雷,A1001\n1,0,李雷,A1002\n2,0,韩梅梅,A2001\n1,7,别家,B1\n",
        ])
    }

    func json(_ result: ProcessResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    @Test func theRunFillsTheInboxAndTheCommandsReadIt() throws {
        let workspace = try workspace()
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.stdout.contains("site        4      4"), "\(run.stdout)")

        let listing = try json(try runHerald(["inbox", "list", "--user", "1", "--json"], in: workspace.url))
        let items = try #require(listing["items"] as? [[String: Any]])
        #expect(listing["total"] as? Int == 2)
        #expect(Set(items.compactMap { $0["content"] as? String }) == ["李雷，您的订单 A1001 已发货", "李雷，您的订单 A1002 已发货"])
        #expect(items.allSatisfy { $0["nickname"] as? String == "商城助手" && $0["read"] as? Bool == false })
        #expect(try json(try runHerald(["inbox", "list", "--user", "1", "--tenant", "7", "--json"], in: workspace.url))["total"] as? Int == 1)

        let text = try runHerald(["inbox", "list", "--user", "1"], in: workspace.url)
        #expect(text.stdout.contains("商城助手  李雷，您的订单 A1001 已发货"))
        #expect(text.stdout.hasSuffix("page 1 of 1, 2 in all\n"))

        let theirs = try #require((try json(try runHerald(["inbox", "list", "--user", "2", "--json"], in: workspace.url))["items"] as? [[String: Any]])?.first?["id"] as? String)
        let denied = try runHerald(["inbox", "read", "--user", "1", theirs], in: workspace.url)
        #expect(denied.status == 1)
        #expect(denied.stderr == "herald inbox: no message \(theirs) for user 1 in tenant 0; nothing was changed\n")

        let mine = try #require(items.first?["id"] as? String)
        #expect(try runHerald(["inbox", "read", "--user", "1", mine], in: workspace.url).stdout == "marked read: 1\n")
        #expect(try runHerald(["inbox", "unread-count", "--user", "1"], in: workspace.url).stdout == "1\n")

        let published = try runHerald(["notice", "publish", "--title", "系统维护", "--content", "今晚 02:00 维护", "--type", "announcement"], in: workspace.url)
        #expect(published.stdout == "published announcement n1 to tenant 0\n")
        #expect(try runHerald(["inbox", "unread-count", "--user", "1", "--json"], in: workspace.url).stdout.contains("\"unread\" : 2"))
        #expect(try runHerald(["inbox", "unread-count", "--user", "999"], in: workspace.url).stdout == "1\n", "every user of the tenant sees it")
        #expect(try runHerald(["inbox", "read-all", "--user", "1"], in: workspace.url).stdout == "marked read: 2\n")
        #expect(try runHerald(["inbox", "unread-count", "--user", "1"], in: workspace.url).stdout == "0\n")
        #expect(try runHerald(["notice", "retract", "n1"], in: workspace.url).stdout == "retracted n1\n")
        #expect(try runHerald(["inbox", "unread-count", "--user", "999"], in: workspace.url).stdout == "0\n")
        #expect(try runHerald(["inbox", "delete", "--user", "1", mine], in: workspace.url).stdout == "deleted: 1\n")
        #expect(try json(try runHerald(["inbox", "list", "--user", "1", "--json"], in: workspace.url))["total"] as? Int == 1)
    }

    @Test func aNoticeFileDroppedInTheInboxIsPublished() throws {
        let workspace = try workspace()
        try workspace.write("recipients/inbox/maintenance.notice.json",
                            #"{"title": "系统维护", "content": "12月1日 02:00-04:00 维护", "type": "announcement", "tenant": "0", "ends": "2099-01-01T00:00:00+08:00"}"#)
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.stdout.hasPrefix("maintenance.notice.json: published announcement n1 to tenant 0\n"), "\(run.stdout)")
        #expect(workspace.exists("recipients/processed/maintenance.notice.json"))
        let list = try runHerald(["notice", "list"], in: workspace.url)
        #expect(list.stdout.contains("n1  tenant 0  announcement  active"))
        #expect(list.stdout.contains("系统维护：12月1日 02:00-04:00 维护"))
    }
}

/// Transports that send nothing store nothing.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct DiscardTransportTests {
    @Test func aSiteChannelOnTheDiscardTransportStoresNoInAppMessage() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "timezone: Asia/Shanghai\nsite: {transport: discard}\n",
            "templates/hello.yaml": "site: {content: \"你好 {name}\"}\n",
            "recipients/inbox/hello.a.csv": "user_id,name\n7,李雷\n",
        ])
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.status == 0)
        #expect(run.stdout.contains("site        1      1"), "\(run.stdout)")
        let inbox = try runHerald(["inbox", "unread-count", "--user", "7"], in: workspace.url)
        #expect(inbox.stdout == "0\n", "discard sends nothing, so nothing reaches the inbox")
    }
}
