import Foundation
import Testing
import HeraldChannels
import HeraldCore
import HeraldTestSupport

/// DingTalk's 加签, with the worked examples of CHANNELS.md as test vectors.
@Suite struct DingTalkSignatureTests {
    @Test func theDocumentedExamplesSignAsDingTalkDoes() {
        #expect(DingTalkSignature.base64(timestamp: 1_577_262_236_757, secret: "this is secret") == "hmPWwU+7lVdm3ZZz0r9tSfx0L4Q26jWOZr9+Gs6EZQM=")
        #expect(DingTalkSignature.sign(timestamp: 1_577_262_236_757, secret: "this is secret") == "hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D")
        #expect(DingTalkSignature.base64(timestamp: 1_700_000_000_000, secret: "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd")
            == "8SZas7RY4E7wuOlgLfjLwHSKZpyUEdXdLvFYSDZiiFw=")
    }
}

/// DingTalkTransport against a local server speaking 钉钉's documented shapes and errors.
@Suite(.timeLimit(.minutes(1))) struct DingTalkTransportTests {
    func transport(_ server: DingTalkTestServer, robot: Bool = false, appSecret: String = "dingtalk-secret",
                   robotSecret: String? = "SEC0123456789abcdef", tokens: any AccessTokenStore = MemoryAccessTokenStore()) -> DingTalkTransport {
        var app = ChatApp(id: robot ? "ops" : "oa", transport: robot ? .dingtalkRobot : .dingtalk, kind: robot ? .robot : .app)
        app.provider = robot
            ? DingTalkSettings(accessToken: Secret(variable: "T", value: "robot-token-0001"), secret: robotSecret.map { Secret(variable: "S", value: $0) },
                               endpoint: server.endpoint)
            : DingTalkSettings(appKey: "dingappkey0001", appSecret: Secret(variable: "A", value: appSecret), agentID: 2_890_001, endpoint: server.endpoint)
        return DingTalkTransport(app: app, tokens: tokens)
    }

    func envelope(_ address: String, _ message: RenderedChat, row: Int = 1) -> Envelope {
        let batch = BatchContext(id: "dt", file: "d.csv")
        var recipient = Recipient()
        recipient.dingtalkUser = address
        return Envelope(id: batch.messageID(row: row, channel: "dingtalk"), batch: batch, row: row, channel: .dingtalk,
                        account: message.account, address: address, recipient: recipient,
                        message: RenderedMessage(template: "approval", category: .transactional, content: .dingtalk(message)))
    }

    static let markdown = RenderedChat(app: "oa", type: .markdown, content: "### 请假已批准\n**张三** 12月8日", title: "请假已批准")

    @Test func workNotificationsSendTheDocumentedBodyAndKeepTheTaskID() async throws {
        let server = try DingTalkTestServer()
        let tokens = MemoryAccessTokenStore()
        let outcome = await transport(server, tokens: tokens).send(envelope("user123", Self.markdown))
        #expect(outcome.kind == .sent && outcome.providerID == "256271667527", "\(outcome)")
        let requests = try server.requests()
        #expect(requests.map(\.path) == ["/gettoken", "/topapi/message/corpconversation/asyncsend_v2"])
        #expect(requests.allSatisfy { $0.problems.isEmpty }, "\(requests.map(\.problems))")
        #expect(requests[1].body == ####"{"agent_id":2890001,"msg":{"markdown":{"text":"### 请假已批准\n**张三** 12月8日","title":"请假已批准"},"msgtype":"markdown"},"userid_list":"user123"}"####)
        _ = await transport(server, tokens: tokens).send(envelope("user456", Self.markdown))
        #expect(try server.tokenFetches() == 1, "the next run finds the token in the store")
    }

    @Test func anInvalidTokenAnsweredAs88IsFetchedAgainOnce() async throws {
        let server = try DingTalkTestServer()
        let transport = transport(server)
        _ = await transport.send(envelope("user123", Self.markdown))
        let outcome = await transport.send(envelope("d-expire", Self.markdown))
        #expect(outcome.kind == .sent, "\(outcome)")
        #expect(try server.tokenFetches() == 2)
    }

    @Test func errorsAreClassifiedFromTheBody() async throws {
        let server = try DingTalkTestServer()
        let busy = await transport(server).send(envelope("d-busy", Self.markdown))
        #expect(busy.kind == .transient && busy.code == "-1", "\(busy)")
        let qpm = await transport(server).send(envelope("d-qpm", Self.markdown))
        #expect(qpm.kind == .transient && qpm.code == "143103", "\(qpm)")
        let refused = await transport(server, appSecret: "wrong").send(envelope("user123", Self.markdown))
        #expect(refused.code == "40096" && refused.stopsAccount, "\(refused)")
    }

    @Test func robotsSignEveryMessageAndAForgedSignatureIsRefused() async throws {
        let server = try DingTalkTestServer()
        let card = RenderedChat(robot: "ops", type: .actionCard, content: "## 发布评审\n明天 14:00", title: "发布评审",
                                url: "https://review.example.com/1", button: "查看")
        let sent = await transport(server, robot: true).send(envelope("robot:ops", card))
        #expect(sent.kind == .sent, "\(sent)")
        let request = try #require(try server.requests().last)
        #expect(request.problems.isEmpty && request.query.contains("&timestamp=") && request.query.contains("&sign="), "\(request)")
        #expect(request.body == ###"{"actionCard":{"btnOrientation":"0","singleTitle":"查看","singleURL":"https:\/\/review.example.com\/1","text":"## 发布评审\n明天 14:00","title":"发布评审"},"msgtype":"actionCard"}"###)
        // A robot configured with another secret signs with it: DingTalk (the fake) refuses the signature.
        let forged = await transport(server, robot: true, robotSecret: "SECnot-the-secret").send(envelope("robot:ops", card, row: 2))
        #expect(forged.code == "310000" && forged.stopsAccount, "\(forged)")
        let unsigned = await transport(server, robot: true, robotSecret: nil).send(envelope("robot:ops", card, row: 3))
        #expect(unsigned.code == "310000", "\(unsigned)")
    }

    @Test func aRobotOverItsMinuteWaitsOutDingTalksTenMinuteBlock() async throws {
        let server = try DingTalkTestServer()
        let robot = transport(server, robot: true)
        let text = RenderedChat(robot: "ops", type: .text, content: "ping")
        for row in 1...20 { #expect(await robot.send(envelope("robot:ops", text, row: row)).kind == .sent) }
        let over = await robot.send(envelope("robot:ops", text, row: 21))
        #expect(over.kind == .transient && over.code == "660026" && over.retryAfter == .seconds(600), "\(over)")
    }
}
