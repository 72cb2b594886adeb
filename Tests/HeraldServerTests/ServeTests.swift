import Foundation
import HeraldTestSupport
import HeraldCore
import Testing

/// `herald serve` end to end: the built binary on 127.0.0.1, spoken to over real HTTP — only
/// what a process shows (the SQLite store behind a run, receipts into the ledger, health, metrics,
/// the access log, signals, startup checks). The HTTP layer itself is tested in process in
/// ServeRouterTests.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3))) struct ServeTests {
    typealias F = ServeFixture

    @Test func inboxEndpointsWithAnnouncementsAndReadState() async throws {
        let fixture = try ServeFixture()
        let server = try fixture.serve()
        let count = try await server.request("GET", "/v1/users/1/unread-count", token: F.shopToken)
        #expect(count.status == 200)
        #expect(count.body == #"{"tenant":"0","unread":3,"user":"1"}"#, "two messages and the announcement")
        #expect(count.headers["content-type"] == "application/json; charset=utf-8")

        let first = try await server.request("GET", "/v1/users/1/messages?size=2&page=1", token: F.shopToken)
        #expect(first.status == 200)
        #expect(first.json["total"] as? Int == 3)
        #expect(first.json["page"] as? Int == 1)
        let items = try #require(first.json["items"] as? [[String: Any]])
        #expect(items.count == 2)
        let second = try await server.request("GET", "/v1/users/1/messages?size=2&page=2", token: F.shopToken)
        let rest = try #require(second.json["items"] as? [[String: Any]])
        let all = items + rest
        #expect(all.compactMap { $0["kind"] as? String }.sorted() == ["announcement", "message", "message"])
        #expect(all.contains { $0["content"] as? String == "李雷，您的订单 A2 已发货。" })
        let notice = try #require(all.first { $0["kind"] as? String == "announcement" })
        let noticeID = try #require(notice["id"] as? String)
        let messageIDs = all.filter { $0["kind"] as? String == "message" }.compactMap { $0["id"] as? String }

        let read = try await server.request("POST", "/v1/users/1/messages/\(messageIDs[0])/read", token: F.shopToken)
        #expect(read.status == 200)
        #expect(read.body == #"{"changed":1}"#)
        let unread = try await server.request("GET", "/v1/users/1/messages?unread=true", token: F.shopToken)
        #expect(unread.json["total"] as? Int == 2)

        // Another user's message is not this user's to read.
        let others = try await server.request("GET", "/v1/users/2/messages", token: F.shopToken)
        let otherID = try #require((others.json["items"] as? [[String: Any]])?.first { $0["kind"] as? String == "message" }?["id"] as? String)
        let stolen = try await server.request("POST", "/v1/users/1/messages/\(otherID)/read", token: F.shopToken)
        #expect(stolen.status == 404)
        #expect(stolen.json["error"] as? [String: String] == ["code": "not_found", "message": "no message \(otherID) for user 1 in tenant 0; nothing was changed"])

        let many = try await server.request("POST", "/v1/users/1/messages/read", token: F.shopToken,
                                            body: Data(#"{"ids": ["\#(noticeID)"]}"#.utf8))
        #expect(many.body == #"{"changed":1}"#)
        let everything = try await server.request("POST", "/v1/users/1/messages/read-all", token: F.shopToken)
        #expect(everything.body == #"{"changed":1}"#)
        let none = try await server.request("GET", "/v1/users/1/unread-count", token: F.shopToken)
        #expect(none.json["unread"] as? Int == 0)

        let badPage = try await server.request("GET", "/v1/users/1/messages?page=0", token: F.shopToken)
        #expect(badPage.status == 400)
        #expect((badPage.json["error"] as? [String: String])?["message"] == "page must be a whole number from 1 to 1000000, not '0'")
        let badSize = try await server.request("GET", "/v1/users/1/messages?size=1000", token: F.shopToken)
        #expect(badSize.status == 400)
        let twice = try await server.request("GET", "/v1/users/1/messages?page=&page=2", token: F.shopToken)
        #expect(twice.status == 400)
        #expect((twice.json["error"] as? [String: String])?["message"] == "give page once, not 2 times")
        let empty = try await server.request("GET", "/v1/users/1/messages?size=", token: F.shopToken)
        #expect(empty.status == 400, "an empty value is not the default")
        _ = server.stop()
    }

    @Test func receiptCallbacksAreStoredAcknowledgedAndEndInTheLedger() async throws {
        let fixture = try ServeFixture()
        let sent = try #require(try fixture.workspace.logEvents().first { $0["channel"] as? String == "sms" && $0["status"] as? String == "sent" })
        let messageID = try #require(sent["message_id"] as? String)
        let server = try fixture.serve()
        let body = Data("""
            [{"phone_number": "13800130000", "send_time": "2026-11-27 13:00:01", "report_time": "2026-11-27 13:00:05", "success": true,
              "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "x", "out_id": "\(messageID)"}]
            """.utf8)

        let wrongSecret = try await server.request("POST", "/v1/receipts/aliyun/not-the-secret", body: body)
        #expect(wrongSecret.status == 404)
        let unknownChannel = try await server.request("POST", "/v1/receipts/nope/\(F.receiptSecret)", body: body)
        #expect(unknownChannel.status == 404)
        #expect(fixture.storedReceipts("aliyun").isEmpty, "a wrong secret writes nothing")

        let accepted = try await server.request("POST", "/v1/receipts/aliyun/\(F.receiptSecret)", body: body)
        #expect(accepted.status == 200)
        #expect(accepted.body == #"{"code":0,"msg":"接收成功"}"#)
        let tencent = try await server.request("POST", "/v1/receipts/tencent/\(F.receiptSecret)", body: Data("""
            [{"user_receive_time": "2026-11-27 13:00:06", "nationcode": "86", "mobile": "13800130009", "report_status": "SUCCESS",
              "errmsg": "DELIVRD", "description": "", "sid": "9999:unknown"}]
            """.utf8))
        #expect(tencent.body == #"{"result":0,"errmsg":"OK"}"#)
        let stored = fixture.storedReceipts("aliyun")
        #expect(stored.count == 1)
        #expect(stored.allSatisfy { $0.hasSuffix(".json") && !$0.hasPrefix(".") }, "only the renamed file, no temporary left: \(stored)")
        let storedBody = try Data(contentsOf: fixture.workspace.url.appendingPathComponent("recipients/inbox/receipts/aliyun/\(stored[0])"))
        #expect(storedBody == body, "stored byte for byte")

        let result = server.stop()
        #expect(result.status == 0)

        let run = try runHerald(["run", "--settle", "0s"], in: fixture.workspace.url, environment: F.environment)
        #expect(run.stdout.contains("1 delivered, 0 undelivered, 0 duplicate, 0 unmatched"), "\(run.stdout)\(run.stderr)")
        let receiptLines = try fixture.workspace.logEvents().filter { $0["file"] as? String == "receipts" }
        #expect(receiptLines.map { $0["message_id"] as? String } == [messageID])
        #expect(receiptLines.map { $0["status"] as? String } == ["delivered"])
        let ledger = try runPython("""
            import sqlite3, sys
            row = sqlite3.connect(sys.argv[1]).execute("SELECT status FROM ledger WHERE message_id = ?", (sys.argv[2],)).fetchone()
            print(row[0] if row else "missing")
            """, [fixture.workspace.url.appendingPathComponent("outbox/herald.sqlite").path, messageID])
        #expect(ledger.stdout == "delivered\n", "the ledger row of the message: \(ledger.stdout)\(ledger.stderr)")
        let inbox = try runHerald(["report"], in: fixture.workspace.url, environment: F.environment)
        #expect(inbox.stdout.contains("delivery rate 100.00%"), "\(inbox.stdout)")
    }

    @Test func healthMetricsAccessLogAndGracefulStop() async throws {
        let fixture = try ServeFixture()
        let server = try fixture.serve()
        let health = try await server.request("GET", "/healthz")
        #expect(health.status == 200)
        #expect(health.body == #"{"status":"ok","version":"\#(HeraldVersion.current)"}"#)
        let metrics = try await server.request("GET", "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(metrics.body.contains("herald_messages_total{channel=\"site\",status=\"sent\"} 4\n"), "\(metrics.body)")
        #expect(metrics.body.contains("herald_messages_total{channel=\"sms\",status=\"sent\"} 1\n"))
        #expect(metrics.body == (try fixture.workspace.read("reports/metrics.prom")), "the same text as reports/metrics.prom")
        _ = try await server.request("POST", "/v1/receipts/aliyun/\(F.receiptSecret)", body: Data("[]".utf8))
        _ = try await server.request("GET", "/v1/users/1/unread-count", token: F.shopToken)

        let result = server.stop()
        #expect(result.status == 0, "SIGTERM is a graceful stop: \(result.stderr)")
        #expect(result.stdout.hasSuffix("herald serve: stopped\n"))
        let entries = result.stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        #expect(entries.count == result.stderr.split(separator: "\n").count, "every log line is a JSON object: \(result.stderr)")
        let access = entries.filter { $0["message"] == "access" }
        #expect(access.map { $0["path"] ?? "" } == ["/healthz", "/metrics", "/v1/receipts/aliyun/***", "/v1/users/1/unread-count"])
        #expect(access.map { $0["status"] ?? "" } == ["200", "200", "200", "200"])
        #expect(access.last?["client"] == "shop")
        #expect(access.last?["tenant"] == "0")
        #expect(access.allSatisfy { $0["duration_ms"].flatMap(Double.init) != nil && $0["request_id"] != nil })
        for secret in [F.receiptSecret, F.shopToken] {
            #expect(!result.stderr.contains(secret), "secrets never reach the log")
        }
    }

    @Test func refusesToStartWithoutItsSecrets() throws {
        let fixture = try ServeFixture()
        var environment = F.environment
        environment["TEST_SHOP_TOKEN"] = ""
        let result = try runHerald(["serve", "--bind", "127.0.0.1:0"], in: fixture.workspace.url, environment: environment)
        #expect(result.status == 2)
        #expect(result.stderr.contains("herald serve: environment variable TEST_SHOP_TOKEN (token of serve client 'shop') is not set\n"), "\(result.stderr)")
        // Other commands do not need serve's secrets.
        let run = try runHerald(["run", "--settle", "0s"], in: fixture.workspace.url, environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("TEST_SHOP_TOKEN"))
    }

    @Test func anAcceptedNotificationIsSentEvenWhenTheServerIsKilledRightAfter() async throws {
        let fixture = try ServeFixture()
        let server = try fixture.serve()
        let reply = try await server.request("POST", "/v1/notifications", token: F.appToken,
                                             body: Data(#"{"template": "order_shipped", "user_id": "77", "params": {"name": "李雷", "orderId": "K1"}}"#.utf8))
        #expect(reply.status == 202, "\(reply.body)")
        let id = try #require((reply.json["messages"] as? [[String: Any]])?.first?["message_id"] as? String)
        _ = server.stop(signal: SIGKILL)
        let run = try runHerald(["run", "--settle", "0s"], in: fixture.workspace.url, environment: F.environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let sent = try fixture.workspace.logEvents().first { $0["message_id"] as? String == id }
        #expect(sent?["status"] as? String == "sent", "the message the 202 named was sent by the next run")
    }
}
