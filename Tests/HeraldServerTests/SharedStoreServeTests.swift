import Foundation
import HeraldTestSupport
import HeraldCore
import Testing

/// Two `herald serve` replicas and a worker in three workspaces over one PostgreSQL store: what
/// one replica changes, the next request on the other sees; a receipt pushed to a replica is a
/// row any worker ingests.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3)), .enabled(if: PostgresTestDatabase.url != nil))
struct SharedStoreServeTests {
    typealias F = ServeFixture

    /// A workspace whose state lives in `schema` of the test server.
    static func workspace(schema: String, sms: SMSProviderTestServer, batch: String? = nil) throws -> TemporaryWorkspace {
        var files = [
            "herald.yaml": """
                timezone: Asia/Shanghai
                site: {transport: inbox}
                caps: {sms: [none]}
                store: {url: "${TEST_DATABASE_URL}", schema: \(schema), pool: 2}
                \(sms.channelsYAML)serve:
                  clients:
                    shop: {token: "${TEST_SHOP_TOKEN}", tenants: [0]}
                    app: {token: "${TEST_APP_TOKEN}", tenants: [0], scopes: [inbox, send]}
                  receipts: {secret: "${TEST_RECEIPT_SECRET}"}

                """,
            "templates/order_shipped.yaml": """
                site: {nickname: 商城助手, content: "{name}，您的订单 {orderId} 已发货。"}
                sms: {channel: aliyun, api_template_id: SMS_1, content: "订单{orderId}已发货"}

                """,
        ]
        if let batch { files["recipients/inbox/order_shipped.a.csv"] = batch }
        return try TemporaryWorkspace(files: files)
    }

    @Test func replicasShareReadStateAndReceiptsBecomeRowsForAnyWorker() async throws {
        let schema = try PostgresTestDatabase.freshSchema()
        let sms = try SMSProviderTestServer()
        let environment = F.environment.merging(["TEST_DATABASE_URL": PostgresTestDatabase.url ?? ""]) { _, new in new }
        let worker = try Self.workspace(schema: schema, sms: sms, batch: """
            user_id,tenant_id,mobile,name,orderId
            1,0,13800130000,李雷,A1
            1,0,,李雷,A2

            """)
        let run = try runHerald(["run", "--settle", "0s"], in: worker.url, environment: environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: worker.url.appendingPathComponent("outbox/herald.sqlite").path),
                "nothing is kept in the local SQLite file")
        let sent = try #require(try worker.logEvents().first { $0["channel"] as? String == "sms" && $0["status"] as? String == "sent" })
        let messageID = try #require(sent["message_id"] as? String)

        let a = try Self.workspace(schema: schema, sms: sms), b = try Self.workspace(schema: schema, sms: sms)
        let replicaA = try ServeProcess(workspace: a.url, environment: environment)
        let replicaB = try ServeProcess(workspace: b.url, environment: environment)
        let before = try await replicaB.request("GET", "/v1/users/1/unread-count", token: F.shopToken)
        #expect(before.json["unread"] as? Int == 2, "stored by a run in another workspace: \(before.body)")
        let list = try await replicaA.request("GET", "/v1/users/1/messages", token: F.shopToken)
        let first = try #require((list.json["items"] as? [[String: Any]])?.first?["id"] as? String)
        let read = try await replicaA.request("POST", "/v1/users/1/messages/\(first)/read", token: F.shopToken)
        #expect(read.body == #"{"changed":1}"#)
        let after = try await replicaB.request("GET", "/v1/users/1/unread-count", token: F.shopToken)
        #expect(after.json["unread"] as? Int == 1, "a read on one replica is seen by the next request on the other")

        let receipt = try await replicaB.request("POST", "/v1/receipts/aliyun/\(F.receiptSecret)", body: Data("""
            [{"phone_number": "13800130000", "send_time": "2026-11-27 13:00:01", "report_time": "2026-11-27 13:00:05", "success": true,
              "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "x", "out_id": "\(messageID)"}]
            """.utf8))
        #expect(receipt.status == 200)
        let folder = b.url.appendingPathComponent("recipients/inbox/receipts/aliyun")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).isEmpty, "kept as a row, not a file")
        _ = replicaA.stop()
        _ = replicaB.stop()

        let ingest = try runHerald(["run", "--settle", "0s"], in: worker.url, environment: environment)
        #expect(ingest.stdout.contains("1 delivered, 0 undelivered, 0 duplicate, 0 unmatched"), "\(ingest.stdout)\(ingest.stderr)")
        let again = try runHerald(["run", "--settle", "0s"], in: worker.url, environment: environment)
        #expect(!again.stdout.contains("delivered,"), "a receipt row is ingested once: \(again.stdout)")
    }

    @Test func aNotificationPostedToOneReplicaIsQueuedForAnyWorkerAndItsKeyHoldsOnEveryReplica() async throws {
        let schema = try PostgresTestDatabase.freshSchema()
        let sms = try SMSProviderTestServer()
        let environment = F.environment.merging(["TEST_DATABASE_URL": PostgresTestDatabase.url ?? ""]) { _, new in new }
        let a = try Self.workspace(schema: schema, sms: sms), b = try Self.workspace(schema: schema, sms: sms)
        let worker = try Self.workspace(schema: schema, sms: sms)
        let replicaA = try ServeProcess(workspace: a.url, environment: environment)
        let replicaB = try ServeProcess(workspace: b.url, environment: environment)
        let row = Data(#"{"template": "order_shipped", "user_id": "31", "params": {"name": "李雷", "orderId": "Q1"}}"#.utf8)
        let key = ["Idempotency-Key": "order-Q1"]
        let accepted = try await replicaA.request("POST", "/v1/notifications", token: F.appToken, headers: key, body: row)
        #expect(accepted.status == 202, "\(accepted.body)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: a.url.appendingPathComponent("recipients/inbox").path)) ?? [])
            .filter { $0.hasSuffix(".json") }.isEmpty, "queued in PostgreSQL, not in this replica's drop folder")
        let replay = try await replicaB.request("POST", "/v1/notifications", token: F.appToken, headers: key, body: row)
        #expect(replay.status == 202 && replay.headers["idempotent-replayed"] == "true", "the key holds on the other replica")
        #expect(replay.json["batch"] as? String == "api:0:app:order-Q1")
        let other = try await replicaB.request("POST", "/v1/notifications", token: F.appToken, headers: key,
                                               body: Data(#"{"template": "order_shipped", "user_id": "31", "params": {"name": "李雷", "orderId": "Q2"}}"#.utf8))
        #expect(other.status == 409)
        _ = replicaA.stop()
        _ = replicaB.stop()

        let run = try runHerald(["run"], in: worker.url, environment: environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let sent = try worker.logEvents().filter { $0["status"] as? String == "sent" && $0["batch"] as? String == "api:0:app:order-Q1" }
        #expect(sent.count == 1, "a worker in another workspace sent it, once")
    }

    /// A mail workspace over `schema`, with one-click unsubscribe and a marketing template.
    static func mailWorkspace(schema: String, batch: String? = nil) throws -> TemporaryWorkspace {
        var files = [
            "herald.yaml": """
                timezone: Asia/Shanghai
                store: {url: "${TEST_DATABASE_URL}", schema: \(schema), pool: 2}
                mail:
                  accounts:
                    default: {transport: file, from: noreply@shop.example.com}
                  unsubscribe: {base_url: "https://notify.example.com", secret: "${TEST_UNSUBSCRIBE_SECRET}"}

                """,
            "templates/promo.yaml": "category: marketing\nmail: {account: default, title: 双十二优惠, text: \"{name}，全场八折。\"}\n",
        ]
        if let batch { files["recipients/inbox/promo.csv"] = batch }
        return try TemporaryWorkspace(files: files)
    }

    @Test func anUnsubscribeOrABounceOnOneMachineHoldsForWorkersOnOthers() async throws {
        let schema = try PostgresTestDatabase.freshSchema()
        let environment = F.environment.merging(["TEST_DATABASE_URL": PostgresTestDatabase.url ?? ""]) { _, new in new }
        let replica = try Self.mailWorkspace(schema: schema)
        let server = try ServeProcess(workspace: replica.url, environment: environment)
        let token = UnsubscribeToken.make(address: "clicked@example.com", category: .marketing, tenant: "0", secret: F.unsubscribeSecret)
        let done = try await server.request("POST", "/v1/unsubscribe/\(token)", body: Data("List-Unsubscribe=One-Click".utf8))
        #expect(done.status == 200)
        _ = server.stop()
        #expect(!replica.exists("recipients/preferences.csv"), "recorded in the shared store, not the replica's folder")

        // A worker in another folder: the opt-out holds; a hard bounce it ingests holds for a third.
        let worker = try Self.mailWorkspace(schema: schema, batch: "email,name\nclicked@example.com,李雷\nbounced@example.com,韩梅梅\n")
        let run = try runHerald(["run", "--settle", "0s"], in: worker.url, environment: environment)
        #expect(run.stdout.contains("mail        1           1      2"), "\(run.stdout)\(run.stderr)")
        let sent = try #require(try worker.logEvents().first { $0["status"] as? String == "sent" }?["message_id"] as? String)
        try worker.write("bounce.eml", BounceFixtures.postfix(id: sent, recipient: "bounced@example.com"))
        let ingest = try runHerald(["bounces", "ingest", "bounce.eml"], in: worker.url, environment: environment)
        #expect(ingest.stdout.contains("1 hard"), "\(ingest.stdout)\(ingest.stderr)")
        #expect(!worker.exists("recipients/suppressions.csv"))

        let other = try Self.mailWorkspace(schema: schema, batch: "email,name\nbounced@example.com,韩梅梅\n")
        try other.write("templates/promo.yaml", "category: transactional\nmail: {account: default, title: 发货, text: \"{name}\"}\n")
        let third = try runHerald(["run", "--settle", "0s"], in: other.url, environment: environment)
        let line = try #require(try other.logEvents().first)
        #expect(line["status"] as? String == "suppressed", "\(third.stdout)")
        #expect(((line["error"] as? [String: Any])?["message"] as? String)?.contains("suppression list (bounce)") == true)
    }

    @Test func anUnsetStoreURLStopsEveryCommandInsteadOfUsingTheLocalFile() throws {
        let sms = try SMSProviderTestServer()
        let workspace = try Self.workspace(schema: "public", sms: sms, batch: "user_id,name,orderId\n1,李雷,A1\n")
        for arguments in [["run", "--settle", "0s"], ["inbox", "list", "--user", "1"], ["spool", "list"]] {
            let result = try runHerald(arguments, in: workspace.url, environment: F.environment)
            #expect(result.status == 2, "\(arguments): \(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("TEST_DATABASE_URL"), "\(arguments): \(result.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: workspace.url.appendingPathComponent("outbox/herald.sqlite").path))
    }
}
