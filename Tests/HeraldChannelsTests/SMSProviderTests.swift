import Foundation
import Testing
import HeraldChannels
import HeraldCore
import HeraldTestSupport

/// The SMS providers against a local server on 127.0.0.1 that speaks Aliyun's, Tencent Cloud's and
/// a webhook gateway's documented wire formats and recomputes every signature itself.
@Suite(.timeLimit(.minutes(1))) struct SMSProviderLocalWireFormatTests {
    func router(_ server: SMSProviderTestServer, aliyunSecret: String = "aliyun-secret") -> SMSRouter {
        var configuration = Configuration()
        var aliyun = SMSChannel(id: "aliyun", transport: .aliyun, signature: "云商城")
        aliyun.provider = SMSProviderSettings(endpoint: server.endpoint("aliyun"), keyID: "LTAI-test",
                                              secret: Secret(variable: "A", value: aliyunSecret))
        var tencent = SMSChannel(id: "tencent", transport: .tencent, signature: "云商城")
        tencent.provider = SMSProviderSettings(endpoint: server.endpoint("tencent"), keyID: "AKID-test",
                                               secret: Secret(variable: "T", value: "tencent-secret"), sdkAppID: "1400000001")
        var webhook = SMSChannel(id: "gateway", transport: .webhook)
        webhook.provider = SMSProviderSettings(secret: Secret(variable: "W", value: "webhook-secret"), url: server.endpoint("webhook"))
        configuration.smsChannels = ["aliyun": aliyun, "tencent": tencent, "gateway": webhook]
        return SMSRouter(configuration: configuration, local: [:])
    }

    func envelope(_ mobile: String, channels: [String], row: Int = 1) -> Envelope {
        let sms = RenderedSMS(channels: channels, apiTemplateID: "SMS_154950909", content: "您的订单A1001已发货", signature: "云商城",
                              parameters: [SMSParameter(name: "orderId", value: "A1001"), SMSParameter(name: "name", value: "李雷")])
        let batch = BatchContext(id: "sms-test", file: "t.csv")
        return Envelope(id: batch.messageID(row: row, channel: "sms"), batch: batch, row: row, channel: .sms, account: channels[0],
                        address: mobile, recipient: Recipient(mobile: mobile),
                        message: RenderedMessage(template: "order_shipped", category: .transactional, content: .sms(sms)))
    }

    @Test func aliyunRequestsAreSignedAndShapedAsDocumented() async throws {
        let server = try SMSProviderTestServer()
        let router = router(server)
        let outcome = await router.send(envelope("+8613800138000", channels: ["aliyun"]))
        #expect(outcome.kind == .sent, "\(outcome)")
        #expect(outcome.providerID == "aliyun:9006197469364984^1")
        let request = try #require(try server.requests().first)
        #expect(request.signatureValid)
        #expect(request.problems.isEmpty, "\(request.problems)")
        #expect(request.mobile == "13800138000")
        #expect(request.fields["SignName"] == "云商城")
        #expect(request.fields["TemplateParam"] == #"{"name":"李雷","orderId":"A1001"}"#)
        #expect(request.fields["OutId"] == envelope("+8613800138000", channels: ["aliyun"]).id.value)
    }

    @Test func aWrongSecretIsRefusedAsTheProviderDoes() async throws {
        let server = try SMSProviderTestServer()
        let outcome = await router(server, aliyunSecret: "wrong").send(envelope("+8613800138000", channels: ["aliyun"]))
        #expect(outcome.kind == .permanent)
        #expect(outcome.code == "SignatureDoesNotMatch")
        #expect(try server.requests().first?.signatureValid == false)
    }

    @Test func tencentRequestsAreSignedWithPositionalParameters() async throws {
        let server = try SMSProviderTestServer()
        let outcome = await router(server).send(envelope("+8613800138000", channels: ["tencent"]))
        #expect(outcome.kind == .sent, "\(outcome)")
        #expect(outcome.providerID == "tencent:2645:1041626021315920731714393601")
        let request = try #require(try server.requests().first)
        #expect(request.signatureValid && request.problems.isEmpty, "\(request.problems)")
        #expect(request.fields["TemplateParamSet"] == #"["A1001", "李雷"]"#)
        #expect(request.fields["PhoneNumberSet"] == #"["+8613800138000"]"#)
    }

    @Test func errorsMapToTransientOrPermanentWithTheProvidersCode() async throws {
        let server = try SMSProviderTestServer()
        let router = router(server)
        let throttled = await router.send(envelope("+8613800130001", channels: ["aliyun"]))
        #expect(throttled.kind == .transient && throttled.code == "isv.BUSINESS_LIMIT_CONTROL", "\(throttled)")
        let illegal = await router.send(envelope("+8613800130002", channels: ["aliyun", "tencent"]))
        #expect(illegal.kind == .permanent && illegal.code == "isv.MOBILE_NUMBER_ILLEGAL", "\(illegal)")
        #expect(illegal.message == "aliyun: 非法手机号")
        #expect(try server.requests().count == 2, "a permanent failure does not fail over")
    }

    @Test func failoverToTheNextChannelAndBothExhaustedIsTransient() async throws {
        let server = try SMSProviderTestServer()
        let router = router(server)
        let rescued = await router.send(envelope("+8613800130001", channels: ["aliyun", "tencent"]))
        #expect(rescued.kind == .sent, "\(rescued)")
        #expect(rescued.providerID?.hasPrefix("tencent:") == true)
        #expect(rescued.message?.hasPrefix("sent through tencent after aliyun isv.BUSINESS_LIMIT_CONTROL") == true)
        let exhausted = await router.send(envelope("+8613800130003", channels: ["aliyun", "tencent"]))
        #expect(exhausted.kind == .transient, "\(exhausted)")
        #expect(exhausted.code == "LimitExceeded.PhoneNumberThirtySecondLimit")
        #expect(exhausted.message?.contains("aliyun isv.BUSINESS_LIMIT_CONTROL") == true)
        #expect(try server.requests().map(\.provider) == ["aliyun", "tencent", "aliyun", "tencent"])
    }

    @Test func webhookRequestsCarryAnHMACOverTimestampAndBody() async throws {
        let server = try SMSProviderTestServer()
        let outcome = await router(server).send(envelope("+8613800138000", channels: ["gateway"]))
        #expect(outcome.kind == .sent, "\(outcome)")
        let request = try #require(try server.requests().first)
        #expect(request.signatureValid)
        #expect(request.fields["text"] == "【云商城】您的订单A1001已发货")
    }
}
