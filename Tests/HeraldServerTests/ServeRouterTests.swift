import Foundation
import HeraldChannels
import HeraldCore
import HeraldInbox
import HeraldServer
import HeraldTestSupport
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The HTTP layer in process: the router of `HeraldServer` over an in-memory inbox, spoken to
/// with Hummingbird's testing client, no socket and no child process. (ServeTests keeps the few
/// runs that only the real binary can show: signals, ports, the access log, receipts into the ledger.)
@Suite(.timeLimit(.minutes(1))) struct ServeRouterTests {
    static let shopToken = "shop-token-0123456789abcdef"
    static let partnerToken = "partner-token-0123456789abcdef"
    static let receiptSecret = "receipt-secret-0123456789"
    static let appToken = "app-token-0123456789abcdef"
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    /// A workspace with `serve:` (two clients, receipts), and an inbox holding two messages and an
    /// announcement for user 1 of tenant 0, one for user 2, one for user 1 of tenant 2, and one for 用户1.
    struct Harness {
        let workspace: TemporaryWorkspace
        let store = MemoryInboxStore()
        let server: HeraldServer

        init() throws {
            workspace = try TemporaryWorkspace(files: [
                "herald.yaml": """
                    timezone: Asia/Shanghai
                    sms:
                      channels:
                        aliyun: {transport: aliyun, signature: 云商城, access_key_id: LTAI-test, access_key_secret: "${TEST_ALIYUN_SECRET}"}
                    serve:
                      max_body: 4KB
                      clients:
                        shop: {token: "${TEST_SHOP_TOKEN}", tenants: [0, 1]}
                        partner: {token: "${TEST_PARTNER_TOKEN}", tenants: ["2"]}
                        app: {token: "${TEST_APP_TOKEN}", tenants: [0, 1], scopes: [inbox, send]}
                      receipts: {secret: "${TEST_RECEIPT_SECRET}"}

                    """,
                "templates/order_shipped.yaml": "site: {content: \"{orderId}\"}\n",
                "templates/verify_code.yaml": "category: verification\nsms: {channel: aliyun, api_template_id: SMS_1, content: \"验证码{code}\"}\n",
            ])
            let environment = ["TEST_SHOP_TOKEN": ServeRouterTests.shopToken, "TEST_PARTNER_TOKEN": ServeRouterTests.partnerToken,
                               "TEST_APP_TOKEN": ServeRouterTests.appToken,
                               "TEST_RECEIPT_SECRET": ServeRouterTests.receiptSecret, "TEST_ALIYUN_SECRET": "aliyun-secret"]
            let opened = try Workspace.open(at: workspace.url, environment: environment, channels: .builtIn)
            func message(_ n: Int, user: String, tenant: String, _ content: String) -> SiteDelivery {
                SiteDelivery(messageID: MessageID(String(format: "%032d", n)), tenantID: tenant, userID: user, userType: nil,
                             template: "order_shipped", nickname: "商城助手", content: content, type: "notification",
                             parameters: [:], createdAt: ServeRouterTests.t0.addingTimeInterval(TimeInterval(n)))
            }
            try store.deliver([message(1, user: "1", tenant: "0", "A1"), message(2, user: "1", tenant: "0", "A2"),
                               message(3, user: "2", tenant: "0", "A3"), message(4, user: "1", tenant: "2", "B1"),
                               message(5, user: "用户1", tenant: "0", "C1")])
            _ = try store.publish(Notice(tenantID: "0", title: "系统维护", content: "今晚 23:00 维护", createdAt: ServeRouterTests.t0))
            server = HeraldServer(workspace: opened, store: store, receiptParsers: ProviderReceipts.parsers, now: { ServeRouterTests.t0.addingTimeInterval(3600) })
        }

        /// Runs `test` against the router.
        func test(_ test: @escaping @Sendable (Client) async throws -> Void) async throws {
            var logger = Logger(label: "herald.serve.test")
            logger.logLevel = .critical
            let app = Application(router: server.router(logger: logger))
            try await app.test(.router) { client in try await test(Client(client: client)) }
        }
    }

    /// A request's answer, decoded.
    struct Reply {
        var status: Int
        var headers: HTTPFields
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
        var error: [String: String]? { json["error"] as? [String: String] }
    }

    struct Client: Sendable {
        let client: any TestClientProtocol

        func request(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, tenant: String? = nil,
                     headers extra: HTTPFields = [:], body: String? = nil, bytes: [UInt8]? = nil) async throws -> Reply {
            var headers = extra
            if let token { headers[.authorization] = "Bearer \(token)" }
            if let tenant, let name = HTTPFields.Element.Name("X-Tenant-Id") { headers[name] = tenant }
            return try await client.execute(uri: path, method: method, headers: headers, body: bytes.map { ByteBuffer(bytes: $0) } ?? body.map { ByteBuffer(string: $0) }) { response in
                Reply(status: Int(response.status.code), headers: response.headers, body: String(buffer: response.body))
            }
        }
    }

    typealias T = ServeRouterTests

    @Test func inboxEndpointsWithAnnouncementsAndReadState() async throws {
        try await Harness().test { client in
            let count = try await client.request(.get, "/v1/users/1/unread-count", token: T.shopToken)
            #expect(count.status == 200)
            #expect(count.body == #"{"tenant":"0","unread":3,"user":"1"}"#, "two messages and the announcement")
            let page = try await client.request(.get, "/v1/users/1/messages?size=2&page=1", token: T.shopToken)
            #expect(page.json["total"] as? Int == 3)
            let items = try #require(try await client.request(.get, "/v1/users/1/messages", token: T.shopToken).json["items"] as? [[String: Any]])
            let message = try #require(items.first { $0["kind"] as? String == "message" && $0["read"] as? Bool == false }?["id"] as? String)
            let read = try await client.request(.post, "/v1/users/1/messages/\(message)/read", token: T.shopToken)
            #expect(read.body == #"{"changed":1}"#)
            let others = try #require(try await client.request(.get, "/v1/users/2/messages", token: T.shopToken).json["items"] as? [[String: Any]])
            let otherID = try #require(others.first { $0["kind"] as? String == "message" }?["id"] as? String)
            let stolen = try await client.request(.post, "/v1/users/1/messages/\(otherID)/read", token: T.shopToken)
            #expect(stolen.status == 404)
            #expect(stolen.error == ["code": "not_found", "message": "no message \(otherID) for user 1 in tenant 0; nothing was changed"])
            let all = try await client.request(.post, "/v1/users/1/messages/read-all", token: T.shopToken)
            #expect(all.status == 200)
            #expect(try await client.request(.get, "/v1/users/1/unread-count", token: T.shopToken).json["unread"] as? Int == 0)
            let twice = try await client.request(.get, "/v1/users/1/messages?page=&page=2", token: T.shopToken)
            #expect(twice.error?["message"] == "give page once, not 2 times")
            let unread = try await client.request(.get, "/v1/users/1/messages?unread=1", token: T.shopToken)
            #expect(unread.status == 400, "unread is true or false, as documented")
        }
    }

    @Test func tenantsAreIsolatedByTheTokensScope() async throws {
        try await Harness().test { client in
            let partner = try await client.request(.get, "/v1/users/1/messages", token: T.partnerToken, tenant: "2")
            let items = try #require(partner.json["items"] as? [[String: Any]])
            #expect(items.compactMap { $0["content"] as? String } == ["B1"], "tenant 2 sees neither tenant 0's messages nor its announcement")
            let partnerInZero = try await client.request(.get, "/v1/users/1/unread-count", token: T.partnerToken)
            #expect(partnerInZero.status == 403)
            #expect(partnerInZero.error == ["code": "forbidden", "message": "client 'partner' may not act in tenant 0; its tenants are 2"])
            let shopInTwo = try await client.request(.post, "/v1/users/1/messages/read-all", token: T.shopToken, tenant: "2")
            #expect(shopInTwo.status == 403)
            #expect(try await client.request(.get, "/v1/users/1/unread-count", token: T.partnerToken, tenant: "2").json["unread"] as? Int == 1,
                    "the refused read-all changed nothing")
            let badTenant = try await client.request(.get, "/v1/users/1/unread-count", token: T.shopToken, tenant: "0;drop")
            #expect(badTenant.status == 400)
        }
    }

    @Test func requestsWithoutAValidTokenAre401() async throws {
        try await Harness().test { client in
            let cases: [(HTTPFields, String)] = [
                ([:], "send Authorization: Bearer <token> (serve.clients in herald.yaml)"),
                ([.authorization: "Bearer nope"], "the bearer token is not one of serve.clients"),
                ([.authorization: "Basic \(T.shopToken)"], "the Authorization header must be Bearer <token>"),
                ([.authorization: "Bearer \(T.shopToken)x"], "the bearer token is not one of serve.clients"),
            ]
            for (headers, message) in cases {
                for (method, path) in [(HTTPRequest.Method.get, "/v1/users/1/messages"), (.get, "/v1/users/1/unread-count"),
                                       (.post, "/v1/users/1/messages/1/read"), (.post, "/v1/users/1/messages/read-all")] {
                    let reply = try await client.request(method, path, headers: headers)
                    #expect(reply.status == 401, "\(method) \(path)")
                    #expect(reply.headers[.wwwAuthenticate] == #"Bearer realm="herald""#)
                    #expect(reply.error == ["code": "unauthorized", "message": message])
                }
            }
        }
    }

    @Test func malformedJSONIs400AndOversizedBodiesAre413() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let broken = try await client.request(.post, "/v1/users/1/messages/read", token: T.shopToken, body: #"{"ids": ["1""#)
            #expect(broken.status == 400)
            #expect(broken.error?["code"] == "malformed_json")
            let empty = try await client.request(.post, "/v1/users/1/messages/read", token: T.shopToken, body: #"{"ids": []}"#)
            #expect(empty.status == 400)
            let big = "{\"ids\": [" + Array(repeating: "\"1\"", count: 2000).joined(separator: ",") + "]}"
            let tooBig = try await client.request(.post, "/v1/users/1/messages/read", token: T.shopToken, body: big)
            #expect(tooBig.status == 413)
            #expect(tooBig.error?["code"] == "body_too_large")
            let receipts = "/v1/receipts/aliyun/\(T.receiptSecret)"
            let badReceipt = try await client.request(.post, receipts, body: "[{\"phone_number\": ")
            #expect(badReceipt.error?["code"] == "malformed_receipt")
            let notAReceipt = try await client.request(.post, receipts, body: #"[{"phone_number": "1"}]"#)
            #expect(notAReceipt.error?["message"] == #"not a aliyun receipt push: Aliyun receipt 1 has no boolean "success""#)
            let wrongSecret = try await client.request(.post, "/v1/receipts/aliyun/nope", body: "[]")
            #expect(wrongSecret.status == 404)
        }
        let waiting = harness.workspace.url.appendingPathComponent("recipients/inbox/receipts/aliyun")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: waiting.path)) ?? []).isEmpty, "refused bodies write nothing")
    }

    @Test func pathParametersArePercentDecodedAsUTF8() async throws {
        try await Harness().test { client in
            let count = try await client.request(.get, "/v1/users/%E7%94%A8%E6%88%B71/unread-count", token: T.shopToken)
            #expect(count.body == #"{"tenant":"0","unread":2,"user":"用户1"}"#, "the message and the announcement of user 用户1")
            for bad in ["%FF", "%E7%94"] {
                let answer = try await client.request(.get, "/v1/users/\(bad)/unread-count", token: T.shopToken)
                #expect(answer.status == 400, "\(bad)")
                #expect(answer.error?["message"] == "the user in the path is not valid percent-encoded UTF-8: '\(bad)'")
            }
        }
    }

    @Test func aKnownPathWithAnotherMethodIs405AndAnUnknownPathIs404() async throws {
        try await Harness().test { client in
            let delete = try await client.request(.delete, "/healthz")
            #expect(delete.status == 405)
            #expect(delete.headers[.allow] == "GET")
            #expect(delete.error == ["code": "method_not_allowed", "message": "DELETE is not allowed here; use GET"])
            let put = try await client.request(.put, "/v1/users/7/messages/read-all", token: T.shopToken)
            #expect(put.headers[.allow] == "POST")
            let unknown = try await client.request(.get, "/v2/nothing")
            #expect(unknown.error == ["code": "not_found", "message": "no such endpoint: /v2/nothing"])
        }
    }

    /// Files in the harness's drop folder.
    static func dropped(_ harness: Harness) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: harness.workspace.url.appendingPathComponent("recipients/inbox").path)) ?? [])
            .filter { !$0.hasPrefix(".") }.sorted()
    }

    @Test func sendingNeedsTheSendScopeAndARowBecomesADurableBatchWithItsIDs() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let row = #"{"template": "verify_code", "mobile": "13800138000", "params": {"code": "123456"}}"#
            let refused = try await client.request(.post, "/v1/notifications", token: T.shopToken, body: row)
            #expect(refused.status == 403 && refused.error?["message"] == "client 'shop' has no 'send' scope; add it to serve.clients.shop.scopes")
            #expect(T.dropped(harness).isEmpty)

            let key = HTTPFields.Element.Name("Idempotency-Key")!
            let accepted = try await client.request(.post, "/v1/notifications", token: T.appToken, headers: [key: "login-42"], body: row)
            #expect(accepted.status == 202, "\(accepted.body)")
            #expect(accepted.json["batch"] as? String == "api:0:app:login-42", "the key, within the client and tenant that sent it")
            let messages = try #require(accepted.json["messages"] as? [[String: Any]])
            #expect(messages.count == 1
                && messages[0]["message_id"] as? String == BatchContext(id: "api:0:app:login-42", file: "").messageID(row: 1, channel: "sms").value)
            let files = T.dropped(harness)
            #expect(files.count == 1 && files[0].hasPrefix("verify_code.api-") && files[0].hasSuffix(".json"), "\(files)")
            let stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: harness.workspace.url
                .appendingPathComponent("recipients/inbox/\(files[0])"))) as? [String: Any])
            #expect(stored["id"] as? String == "api:0:app:login-42")
            #expect((stored["recipients"] as? [[String: Any]])?.first?["tenant_id"] as? String == "0", "the request's tenant")

            let replay = try await client.request(.post, "/v1/notifications", token: T.appToken, headers: [key: "login-42"], body: row)
            #expect(replay.status == 202 && replay.body == accepted.body)
            #expect(replay.headers[HTTPFields.Element.Name("Idempotent-Replayed")!] == "true")
            #expect(T.dropped(harness).count == 1, "a replay queues nothing new")
            let other = try await client.request(.post, "/v1/notifications", token: T.appToken, headers: [key: "login-42"],
                                                 body: #"{"template": "verify_code", "mobile": "13800138000", "params": {"code": "999999"}}"#)
            #expect(other.status == 409 && other.error?["code"] == "idempotency_conflict")
        }
    }

    @Test func rowsThatBreakTheBatchRulesAre422AndNothingIsQueued() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let batch = #"{"template": "verify_code", "recipients": [{"mobile": "13800138000", "params": {"code": "1"}}, {"mobile": "123", "params": {"code": "2"}}, {"mobile": "13800138001"}]}"#
            let reply = try await client.request(.post, "/v1/notifications", token: T.appToken, body: batch)
            #expect(reply.status == 422)
            let error = try #require(reply.json["error"] as? [String: Any])
            let rows = try #require(error["rows"] as? [[String: Any]])
            #expect(rows.map { $0["row"] as? Int } == [2, 3])
            #expect(rows.map { $0["code"] as? String } == ["invalid_mobile", "missing_parameter"])
            #expect(T.dropped(harness).isEmpty, "nothing of the request is queued")

            let unknown = try await client.request(.post, "/v1/notifications", token: T.appToken, body: #"{"template": "nope", "user_id": "1"}"#)
            #expect(unknown.status == 422 && unknown.body.contains("unknown_template"))
            let tenant = try await client.request(.post, "/v1/notifications", token: T.appToken, tenant: "1",
                                                  body: #"{"template": "order_shipped", "user_id": "1", "tenant_id": "0", "params": {"orderId": "A"}}"#)
            #expect(tenant.status == 422 && tenant.body.contains("X-Tenant-Id"))
            // The batch reader takes reserved keys in any case, so the guard must too (issue 26):
            // `TENANT_ID` naming another tenant was accepted and stored the 站内信 there.
            for spelling in ["TENANT_ID", "Tenant_Id"] {
                let other = try await client.request(.post, "/v1/notifications", token: T.appToken, tenant: "1",
                                                     body: #"{"template": "order_shipped", "user_id": "1", "\#(spelling)": "0", "params": {"orderId": "A"}}"#)
                #expect(other.status == 422 && other.body.contains("X-Tenant-Id"), "\(spelling): \(other.status) \(other.body)")
            }
            let twice = try await client.request(.post, "/v1/notifications", token: T.appToken, tenant: "1",
                                                 body: #"{"template": "order_shipped", "user_id": "1", "tenant_id": "1", "TENANT_ID": "0", "params": {"orderId": "A"}}"#)
            #expect(twice.status == 422 && twice.body.contains("twice"), "\(twice.status) \(twice.body)")
            // Issue 26: a posted body was parsed more forgivingly than the same bytes dropped as a
            // file (a trailing comma, UTF-16, a key twice were accepted): one reader, one set of rules.
            for (bad, reason) in [(#"{"template": "order_shipped", "user_id": "1", "params": {"orderId": "A"},}"#, "not valid JSON"),
                                  (#"{"template": "order_shipped", "user_id": "1", "user_id": "2", "params": {"orderId": "A"}}"#, "appears twice")] {
                let reply = try await client.request(.post, "/v1/notifications", token: T.appToken, body: bad)
                #expect(reply.status == 400 && reply.body.contains(reason), "\(bad): \(reply.status) \(reply.body)")
            }
            let utf16: [UInt8] = [0xFF, 0xFE] + Array(#"{"template": "order_shipped", "user_id": "1", "params": {"orderId": "A"}}"#.utf16)
                .flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
            let sixteen = try await client.request(.post, "/v1/notifications", token: T.appToken, bytes: utf16)
            #expect(sixteen.status == 400 && sixteen.body.contains("UTF-16"), "\(sixteen.status) \(sixteen.body)")
            for bad in ["nope", "[1, 2]", #"{"recipients": []}"#] {
                let reply = try await client.request(.post, "/v1/notifications", token: T.appToken, body: bad)
                #expect([400, 422].contains(reply.status), "\(bad): \(reply.status)")
            }
            let big = try await client.request(.post, "/v1/notifications", token: T.appToken, body: String(repeating: " ", count: 5000))
            #expect(big.status == 413)
            #expect(T.dropped(harness).isEmpty)
        }
    }

    /// Posts `bodies` concurrently with one `Idempotency-Key`; the replies in order.
    static func race(_ client: Client, key: String, bodies: [String]) async throws -> [Reply] {
        let name = HTTPFields.Element.Name("Idempotency-Key")!
        return try await withThrowingTaskGroup(of: (Int, Reply).self) { group in
            for (index, body) in bodies.enumerated() {
                group.addTask { (index, try await client.request(.post, "/v1/notifications", token: T.appToken, headers: [name: key], body: body)) }
            }
            var replies: [(Int, Reply)] = []
            for try await reply in group { replies.append(reply) }
            return replies.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    // Issue 26: keys were one namespace for every client and tenant, and were batch ids a dropped
    // file could declare too: tenant 2 squatting `squat-2026` made tenant 0's file with that id an
    // `id_conflict`, and a key equal to a sent file's id answered with that file's message id.
    @Test func keysBelongToTheirClientAndTenantAndNeverMeetABatchFile() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let key = HTTPFields.Element.Name("Idempotency-Key")!
            let row = #"{"template": "order_shipped", "user_id": "1", "params": {"orderId": "A"}}"#
            let other = #"{"template": "order_shipped", "user_id": "2", "params": {"orderId": "B"}}"#
            let first = try await client.request(.post, "/v1/notifications", token: T.appToken, headers: [key: "squat-2026"], body: row)
            #expect(first.status == 202, "\(first.body)")
            // Another tenant with the same key and another body is its own batch, not a 409.
            let elsewhere = try await client.request(.post, "/v1/notifications", token: T.appToken, tenant: "1", headers: [key: "squat-2026"], body: other)
            #expect(elsewhere.status == 202 && elsewhere.json["batch"] as? String == "api:1:app:squat-2026", "\(elsewhere.status) \(elsewhere.body)")
            #expect(BatchContext.ingestID(tenant: "0", client: "a:b", key: "c") != BatchContext.ingestID(tenant: "0", client: "a", key: "b:c"))
            let mine = try #require((first.json["messages"] as? [[String: Any]])?.first?["message_id"] as? String)
            let file = BatchContext(id: "squat-2026", file: "orders.json").messageID(row: 1, channel: "inbox").value
            #expect(mine != file, "a file declaring the key as its id has other message ids")
            #expect(first.json["batch"] as? String != "squat-2026")
            // A body's own "id" is scoped the same way, and Herald's prefixes are not a client's to use.
            let declared = try await client.request(.post, "/v1/notifications", token: T.appToken,
                                                    body: #"{"id": "squat-2026", "template": "order_shipped", "recipients": [{"user_id": "3", "params": {"orderId": "C"}}]}"#)
            #expect(declared.status == 409, "the same scoped key as the header's, another body: \(declared.body)")
            let own = try await client.request(.post, "/v1/notifications", token: T.appToken,
                                               body: #"{"id": "own-1", "template": "order_shipped", "recipients": [{"user_id": "3", "params": {"orderId": "C"}}]}"#)
            #expect(own.status == 202 && own.json["batch"] as? String == "api:0:app:own-1", "\(own.body)")
            for forged in ["api:0:other:squat-2026", "sha256:00ff"] {
                let reply = try await client.request(.post, "/v1/notifications", token: T.appToken, headers: [key: forged], body: row)
                #expect(reply.status == 400 && reply.body.contains("cannot begin with"), "\(forged): \(reply.status) \(reply.body)")
            }
        }
    }

    // Issue 26: 50 posts racing with one key and different bodies answered one 202, 48 409s and a
    // 500, and both the 202's and the 500's batches were written (the 500's was sent); with one
    // body, one of 50 was a 500 (two writers shared a temporary file name).
    @Test func ofFiftyRacingPostsWithOneKeyExactlyOneIsQueued() async throws {
        let harness = try Harness()
        try await harness.test { client in
            let bodies = (0..<50).map { #"{"template": "order_shipped", "user_id": "\#($0)", "params": {"orderId": "A"}}"# }
            let replies = try await T.race(client, key: "race-1", bodies: bodies)
            #expect(!replies.contains { $0.status >= 500 }, "\(replies.filter { $0.status >= 500 }.map(\.body))")
            let winners = replies.enumerated().filter { $0.element.status == 202 }
            #expect(winners.count == 1 && replies.filter { $0.status == 409 }.count == 49)
            let files = T.dropped(harness)
            #expect(files.count == 1, "\(files)")
            if let winner = winners.first, let name = files.first {
                let stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: harness.workspace.url
                    .appendingPathComponent("recipients/inbox/\(name)"))) as? [String: Any])
                let user = (stored["recipients"] as? [[String: Any]])?.first?["user_id"] as? String
                #expect(user == "\(winner.offset)", "the batch queued is the one answered 202")
                #expect(winner.element.json["file"] as? String == name)
            }

            let same = try await T.race(client, key: "race-2", bodies: Array(repeating: bodies[7], count: 50))
            #expect(!same.contains { $0.status >= 500 }, "\(same.filter { $0.status >= 500 }.map(\.body))")
            let fresh = same.filter { $0.status == 202 && $0.headers[HTTPFields.Element.Name("Idempotent-Replayed")!] == nil }
            #expect(fresh.count == 1, "one request queued the batch")
            #expect(same.allSatisfy { $0.status == 202 || $0.error?["code"] == "idempotency_in_progress" })
            #expect(same.filter { $0.status == 202 }.allSatisfy { $0.json["file"] as? String == fresh.first?.json["file"] as? String })
            #expect(T.dropped(harness).count == 2)
        }
    }
}
