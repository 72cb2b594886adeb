import Foundation
import Testing
import HeraldChannels
import HeraldCore
import HeraldTestSupport

/// WeComTransport against a local server speaking 企业微信's documented shapes and errors.
@Suite(.timeLimit(.minutes(1))) struct WeComTransportTests {
    func transport(_ server: WeComTestServer, robot: Bool = false, secret: String = "wecom-secret", key: String = "robot-key-0001",
                   tokens: any AccessTokenStore = MemoryAccessTokenStore()) -> WeComTransport {
        var app = ChatApp(id: robot ? "oncall" : "hr", transport: robot ? .wecomRobot : .wecom, kind: robot ? .robot : .app)
        app.provider = robot
            ? WeComSettings(key: Secret(variable: "K", value: key), endpoint: server.endpoint)
            : WeComSettings(corpID: "ww0000000000000001", agentID: 1000002, secret: Secret(variable: "S", value: secret), endpoint: server.endpoint)
        return WeComTransport(app: app, tokens: tokens)
    }

    func envelope(_ address: String, _ message: RenderedChat, row: Int = 1) -> Envelope {
        let batch = BatchContext(id: "wc", file: "w.csv")
        return Envelope(id: batch.messageID(row: row, channel: "wecom"), batch: batch, row: row, channel: .wecom,
                        account: message.account, address: address, recipient: Recipient(wecomUser: address),
                        message: RenderedMessage(template: "approval", category: .transactional, content: .wecom(message)))
    }

    static let text = RenderedChat(app: "hr", type: .text, content: "你的报销单已审批通过")

    @Test func appMessagesSendTheDocumentedBodyAndFetchOneTokenForMany() async throws {
        let server = try WeComTestServer()
        let tokens = MemoryAccessTokenStore()
        let transport = transport(server, tokens: tokens)
        let card = RenderedChat(app: "hr", type: .textcard, content: nil, title: "审批通过", description: "报销单 A1 已通过",
                                 url: "https://oa.example.com/a/1", button: "查看")
        let outcomes = [await transport.send(envelope("zhangsan", Self.text)), await transport.send(envelope("lisi", card, row: 2))]
        #expect(outcomes.allSatisfy { $0.kind == .sent }, "\(outcomes)")
        #expect(outcomes[0].providerID == "msg00001001")
        let requests = try server.requests()
        #expect(requests.map(\.path) == ["/cgi-bin/gettoken", "/cgi-bin/message/send", "/cgi-bin/message/send"])
        #expect(requests.allSatisfy { $0.problems.isEmpty }, "\(requests.map(\.problems))")
        #expect(requests[1].body == #"{"agentid":1000002,"enable_duplicate_check":0,"msgtype":"text","text":{"content":"你的报销单已审批通过"},"touser":"zhangsan"}"#)
        #expect(requests[2].body == #"{"agentid":1000002,"enable_duplicate_check":0,"msgtype":"textcard","textcard":{"btntxt":"查看","description":"报销单 A1 已通过","title":"审批通过","url":"https:\/\/oa.example.com\/a\/1"},"touser":"lisi"}"#)
        // The next transport (the next run) finds the token in the shared store and fetches none.
        _ = await self.transport(server, tokens: tokens).send(envelope("wangwu", Self.text))
        #expect(try server.tokenFetches() == 1)
    }

    @Test func partiesAndTagsGoInTheirOwnFields() async throws {
        let server = try WeComTestServer()
        var party = Self.text
        party.to = .party
        #expect(await transport(server).send(envelope("42", party)).kind == .sent)
        #expect(try server.requests().last?.body.contains(#""toparty":"42""#) == true)
    }

    @Test func anExpiredTokenIsFetchedAgainOnceAndTheSendRetried() async throws {
        let server = try WeComTestServer()
        let transport = transport(server)
        _ = await transport.send(envelope("zhangsan", Self.text))
        let outcome = await transport.send(envelope("w-expire", Self.text))
        #expect(outcome.kind == .sent, "\(outcome)")
        #expect(try server.tokenFetches() == 2)
        #expect(try server.requests().last?.token == "ACCESS_TOKEN_2")
    }

    @Test(arguments: [
        ("w-busy", DeliveryOutcome.Kind.transient, "-1", false),
        ("w-limit", .transient, "45009", false),
        ("w-unknown", .permanent, "81013", false),
        ("w-partial", .permanent, "wecom_invalid_recipient", false),
    ])
    func errorsAreClassifiedFromTheBody(address: String, kind: DeliveryOutcome.Kind, code: String, stops: Bool) async throws {
        let server = try WeComTestServer()
        let outcome = await transport(server).send(envelope(address, Self.text))
        #expect(outcome.kind == kind && outcome.code?.rawValue == code && outcome.stopsAccount == stops, "\(outcome)")
        #expect(outcome.message?.contains("from ip") != false || code == "wecom_invalid_recipient")
    }

    @Test func aWrongSecretStopsTheAccountInsteadOfFailingEveryMessage() async throws {
        let server = try WeComTestServer()
        let outcome = await transport(server, secret: "not-the-secret").send(envelope("zhangsan", Self.text))
        #expect(outcome.kind == .transient && outcome.code == "40001" && outcome.stopsAccount, "\(outcome)")
        #expect(try server.requests().map(\.path) == ["/cgi-bin/gettoken"], "nothing is sent without a token")
    }

    @Test func robotsPostTheirTypesWithTheKeyAndNoToken() async throws {
        let server = try WeComTestServer()
        let robot = transport(server, robot: true)
        let markdown = RenderedChat(robot: "oncall", type: .markdown, content: "**告警** 订单服务 5xx 升高")
        let news = RenderedChat(robot: "oncall", type: .news, title: "周报", description: "本周发送 12 万条", url: "https://r.example.com/w1",
                                 picture: "https://r.example.com/w1.png")
        let outcomes = [await robot.send(envelope("robot:oncall", markdown)), await robot.send(envelope("robot:oncall", news, row: 2))]
        #expect(outcomes.allSatisfy { $0.kind == .sent && $0.providerID == nil }, "\(outcomes)")
        let requests = try server.requests()
        #expect(requests.allSatisfy { $0.problems.isEmpty && $0.path == "/cgi-bin/webhook/send" }, "\(requests)")
        #expect(requests[1].body == #"{"msgtype":"news","news":{"articles":[{"description":"本周发送 12 万条","picurl":"https:\/\/r.example.com\/w1.png","title":"周报","url":"https:\/\/r.example.com\/w1"}]}}"#)
        let wrongKey = await transport(server, robot: true, key: "gone").send(envelope("robot:oncall", markdown))
        #expect(wrongKey.code == "93000" && wrongKey.stopsAccount, "\(wrongKey)")
    }

    @Test func aRobotOverItsMinuteWaitsTheMinute() async throws {
        let server = try WeComTestServer()
        let robot = transport(server, robot: true)
        let text = RenderedChat(robot: "oncall", type: .text, content: "ping")
        for row in 1...20 { #expect(await robot.send(envelope("robot:oncall", text, row: row)).kind == .sent) }
        let over = await robot.send(envelope("robot:oncall", text, row: 21))
        #expect(over.kind == .transient && over.code == "45009" && over.retryAfter == .seconds(60), "\(over)")
    }
}

/// Values put into 企业微信 markdown cannot add markup, links or mentions.
@Suite(.timeLimit(.minutes(1))) struct WeComMarkdownTests {
    @Test func parametersCannotInjectMarkupOrLinks() throws {
        let template = Template(code: "alert", name: "告警", base: VariantSet(wecom: ChatVariant(
            robot: "oncall", type: .markdown, content: TemplateText("**{service}** 异常：{detail}"))))
        let rendered = try TemplateRenderer().render(template, channel: .wecom, parameters: [
            "service": "订单*服务*", "detail": "[点我](https://evil.example.com) <font color=\"warning\">x</font>\n# 标题 @all",
        ]).get()
        guard case let .wecom(wecom) = rendered.content else { Issue.record("not wecom"); return }
        #expect(wecom.content == "**订单＊服务＊** 异常：［点我］（https://evil.example.com） ＜font color=\"warning\"＞x＜/font＞ ＃ 标题 ＠all")
    }

    @Test func plainTextIsSentAsWritten() throws {
        let template = Template(code: "t", name: "t", base: VariantSet(wecom: ChatVariant(app: "hr", type: .text, content: TemplateText("{x}"))))
        let rendered = try TemplateRenderer().render(template, channel: .wecom, parameters: ["x": "a*b [c]"]).get()
        guard case let .wecom(wecom) = rendered.content else { Issue.record("not wecom"); return }
        #expect(wecom.content == "a*b [c]")
    }
}
