import Foundation
import Testing
import HeraldChannels
import HeraldCore
import HeraldTestSupport

/// WeChatTransport against a local server on 127.0.0.1 speaking the WeChat API's documented shapes.
@Suite(.timeLimit(.minutes(1))) struct WeChatLocalWireFormatTests {
    func transport(_ server: WeChatTestServer, kind: WeChatAppKind = .officialAccount,
                   tokens: any AccessTokenStore = MemoryAccessTokenStore()) -> WeChatTransport {
        var app = WeChatApp(id: "mp", transport: .wechat, kind: kind, appID: "wx0000000000000001")
        app.provider = WeChatAppSettings(appSecret: Secret(variable: "W", value: "wechat-secret"), endpoint: server.endpoint)
        return WeChatTransport(app: app, tokens: tokens)
    }

    func envelope(_ openid: String, mini: Bool = false) -> Envelope {
        let batch = BatchContext(id: "wx", file: "w.csv")
        let content: RenderedContent = mini
            ? .wechatMini(RenderedWeChat(app: "mini", templateID: "TPL_MINI", page: "pages/order?id=A1",
                                         data: [RenderedWeChatItem(key: "thing1", value: "满100减20券"), RenderedWeChatItem(key: "amount2", value: "¥20")],
                                         miniprogramState: "trial", lang: "zh_CN"))
            : .wechatMP(RenderedWeChat(app: "mp", templateID: "TPL_MP", url: "https://shop.example.com/o/A1",
                                       data: [RenderedWeChatItem(key: "first", value: "订单已发货", color: "#173177"),
                                              RenderedWeChatItem(key: "keyword1", value: "A1")]))
        return Envelope(id: batch.messageID(row: 1, channel: mini ? "wechat_mini" : "wechat_mp"), batch: batch, row: 1,
                        channel: mini ? .wechatMini : .wechatMP, account: "mp", address: openid, recipient: Recipient(openID: openid),
                        message: RenderedMessage(template: "order_shipped", category: .transactional, content: content))
    }

    @Test func templateMessagesSendTheDocumentedBodyAndReuseTheToken() async throws {
        let server = try WeChatTestServer()
        let transport = transport(server)
        let first = await transport.send(envelope("oUser1"))
        let second = await transport.send(envelope("oUser2"))
        #expect(first.kind == .sent && second.kind == .sent, "\(first) \(second)")
        #expect(first.providerID == "1001")
        let requests = try server.requests()
        #expect(requests.map(\.path) == ["/cgi-bin/stable_token", "/cgi-bin/message/template/send", "/cgi-bin/message/template/send"])
        #expect(requests[0].body == #"{"appid":"wx0000000000000001","force_refresh":false,"grant_type":"client_credential","secret":"wechat-secret"}"#)
        #expect(requests[1].body == ##"{"client_msg_id":"\##(envelope("oUser1").id.value)","data":{"first":{"color":"#173177","value":"订单已发货"},"keyword1":{"value":"A1"}},"template_id":"TPL_MP","touser":"oUser1","url":"https://shop.example.com/o/A1"}"##)
        #expect(requests[1].token == "TOKEN_1" && requests[2].token == "TOKEN_1")
    }

    @Test func subscribeMessagesSendTheDocumentedBody() async throws {
        let server = try WeChatTestServer()
        let outcome = await transport(server, kind: .miniProgram).send(envelope("oMini1", mini: true))
        #expect(outcome.kind == .sent, "\(outcome)")
        #expect(try server.requests().last?.body == #"{"data":{"amount2":{"value":"¥20"},"thing1":{"value":"满100减20券"}},"lang":"zh_CN","miniprogram_state":"trial","page":"pages/order?id=A1","template_id":"TPL_MINI","touser":"oMini1"}"#)
    }

    @Test func anInvalidTokenIsRefreshedOnceAndTheSendRetried() async throws {
        let server = try WeChatTestServer()
        let transport = transport(server)
        _ = await transport.send(envelope("oUser1"))
        let outcome = await transport.send(envelope("o-expire"))
        #expect(outcome.kind == .sent, "\(outcome)")
        let tokens = try server.requests().filter { $0.path == "/cgi-bin/stable_token" }
        #expect(tokens.count == 2)
        #expect(tokens.last?.body.contains(#""force_refresh":true"#) == true)
        #expect(try server.requests().last?.token == "TOKEN_2")
    }

    @Test(arguments: [("o-busy", DeliveryOutcome.Kind.transient, "-1", "system error"),
                      ("o-limit", .transient, "45009", "reach max api daily quota limit"),
                      ("o-refused", .permanent, "43101", "user refuse to accept the msg"),
                      ("o-bad", .permanent, "40003", "invalid openid")])
    func errcodesAreClassified(openid: String, kind: DeliveryOutcome.Kind, code: String, message: String) async throws {
        let server = try WeChatTestServer()
        let outcome = await transport(server).send(envelope(openid))
        #expect(outcome.kind == kind && outcome.code?.rawValue == code && outcome.message == message, "\(outcome)")
    }

    @Test func aWrongSecretIsAPermanentFailure() async throws {
        let server = try WeChatTestServer(secret: "other")
        let outcome = await transport(server).send(envelope("oUser1"))
        #expect(outcome.kind == .permanent && outcome.code == "40125", "\(outcome)")
    }
}
