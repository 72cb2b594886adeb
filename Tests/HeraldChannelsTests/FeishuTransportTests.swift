import Foundation
import Testing
import HeraldChannels
import HeraldCore
import HeraldTestSupport

/// Feishu's custom-bot signature, with the worked example of CHANNELS.md.
@Suite struct FeishuSignatureTests {
    @Test func theDocumentedExampleSignsAsFeishuDoes() {
        #expect(FeishuSignature.sign(timestamp: 1_599_360_473, secret: "demo") == "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8=")
        #expect(FeishuSignature.sign(timestamp: 1_599_360_473, secret: "demo") != "DkEDUyVoOOJ539qBvUgMyzkzIdRWlf4e/V3Rq+ONJnQ=",
                "not the common bug (key and message swapped)")
    }
}

/// FeishuTransport against a local server speaking 飞书's documented shapes and errors.
@Suite(.timeLimit(.minutes(1))) struct FeishuTransportTests {
    func transport(_ server: FeishuTestServer, robot: Bool = false, appSecret: String = "feishu-secret", botSecret: String? = "demo",
                   tokens: any AccessTokenStore = MemoryAccessTokenStore()) -> FeishuTransport {
        var app = ChatApp(id: robot ? "ops" : "bot", transport: robot ? .feishuRobot : .feishu, kind: robot ? .robot : .app)
        app.provider = robot
            ? FeishuSettings(hook: Secret(variable: "H", value: "hook-0001"), secret: botSecret.map { Secret(variable: "S", value: $0) }, endpoint: server.endpoint)
            : FeishuSettings(appID: "cli_a0000000000001", appSecret: Secret(variable: "A", value: appSecret), endpoint: server.endpoint)
        return FeishuTransport(app: app, tokens: tokens)
    }

    func envelope(_ address: String, _ message: RenderedChat, row: Int = 1) -> Envelope {
        let batch = BatchContext(id: "fs", file: "f.csv")
        var recipient = Recipient()
        recipient.feishuUser = address
        return Envelope(id: batch.messageID(row: row, channel: "feishu"), batch: batch, row: row, channel: .feishu,
                        account: message.account, address: address, recipient: recipient,
                        message: RenderedMessage(template: "approval", category: .transactional, content: .feishu(message)))
    }

    static let markdown = RenderedChat(app: "bot", type: .markdown, content: "**报销单** A1 已通过", title: "审批通过")

    @Test func appMessagesCarryContentAsAStringAndTheMessageIDAsUUID() async throws {
        let server = try FeishuTestServer()
        let tokens = MemoryAccessTokenStore()
        let sent = await transport(server, tokens: tokens).send(envelope("ou_7d8a6e6df7621556ce0d21922b676706ccs", Self.markdown))
        #expect(sent.kind == .sent && sent.providerID?.hasPrefix("om_") == true, "\(sent)")
        let requests = try server.requests()
        #expect(requests.allSatisfy { $0.problems.isEmpty }, "\(requests.map(\.problems))")
        #expect(requests[1].query == "receive_id_type=open_id")
        #expect(requests[1].body.contains(#""uuid":"\#(envelope("x", Self.markdown).id.value)""#))
        #expect(requests[1].body.contains(#""msg_type":"interactive""#) && requests[1].body.contains(#"\"tag\":\"markdown\""#))
        var email = RenderedChat(app: "bot", type: .text, content: "你好")
        email.idType = "email"
        #expect(await transport(server, tokens: tokens).send(envelope("zhangsan@example.com", email, row: 2)).kind == .sent)
        #expect(try server.requests().last?.query == "receive_id_type=email")
        #expect(try server.tokenFetches() == 1, "the token is reused by the next transport")
    }

    @Test func errorsAreClassifiedFromTheCode() async throws {
        let server = try FeishuTestServer()
        let transport = transport(server)
        #expect(await transport.send(envelope("f-expire", Self.markdown)).kind == .sent, "a refused token is fetched again once")
        #expect(try server.tokenFetches() == 2)
        let limited = await transport.send(envelope("f-limit", Self.markdown))
        #expect(limited.kind == .transient && limited.code == "99991400" && limited.retryAfter == .seconds(60), "\(limited)")
        let gone = await transport.send(envelope("f-gone", Self.markdown))
        #expect(gone.kind == .permanent && gone.code == "230013", "\(gone)")
        let refused = await self.transport(server, appSecret: "wrong").send(envelope("ou_x", Self.markdown))
        #expect(refused.code == "10003" && refused.stopsAccount, "\(refused)")
    }

    @Test func botsSignTheBodyAndAWrongSecretIsRefused() async throws {
        let server = try FeishuTestServer()
        let text = RenderedChat(robot: "ops", type: .text, content: "发布完成")
        #expect(await transport(server, robot: true).send(envelope("robot:ops", text)).kind == .sent)
        let body = try #require(try server.requests().last?.body)
        #expect(body.contains(#""timestamp":""#) && body.contains(#""sign":""#) && body.contains(#""content":{"text":"发布完成"}"#), "\(body)")
        let forged = await transport(server, robot: true, botSecret: "not-demo").send(envelope("robot:ops", text, row: 2))
        #expect(forged.code == "19021" && forged.stopsAccount, "\(forged)")
    }
}
