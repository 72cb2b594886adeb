import Testing
import HeraldCore

@Suite(.timeLimit(.minutes(1))) struct RenderingTests {
    let template = Template(
        code: "order_shipped", name: "订单发货通知",
        declaredParameters: [ParameterDeclaration(name: "name"), ParameterDeclaration(name: "orderId"),
                             ParameterDeclaration(name: "note", required: false),
                             ParameterDeclaration(name: "url", required: false, defaultValue: "https://x.example/")],
        base: VariantSet(
            site: SiteVariant(nickname: TemplateText("商城"), type: "notification", content: TemplateText("{name} 的订单 {orderId}{note}")),
            mail: MailVariant(account: "default", nickname: TemplateText("客服 {name}"), title: TemplateText("订单 {orderId} 已发货"),
                              html: TemplateText("<p>{name}</p><a href=\"{url}\">x</a>"), text: TemplateText("{name}: {orderId}")),
            sms: SMSVariant(channels: ["tencent", "aliyun"], apiTemplateID: "1234", content: TemplateText("订单{orderId}已发货，{name}请查收"))),
        locales: [
            "en": VariantSet(mail: MailVariant(account: "default", nickname: nil, title: TemplateText("Order {orderId} shipped"),
                                               html: nil, text: TemplateText("Hi {name}"))),
            "zh-TW": VariantSet(mail: MailVariant(account: "default", nickname: nil, title: TemplateText("訂單 {orderId} 已出貨"),
                                                  html: nil, text: TemplateText("{name}"))),
        ])
    let renderer = TemplateRenderer(smsSignatures: ["tencent": "云商城"])

    func mail(_ parameters: [String: String], locale: String? = nil) throws -> RenderedMail {
        let message = try renderer.render(template, channel: .mail, parameters: parameters, locale: locale).get()
        guard case let .mail(mail) = message.content else {
            Issue.record("expected mail, got \(message.content)")
            throw RenderError.noVariant(.mail, template: template.code)
        }
        return mail
    }

    @Test func htmlFieldsEscapeValuesAndTextFieldsDoNot() throws {
        let rendered = try mail(["name": "<script>x</script>", "orderId": "A1"])
        #expect(rendered.html == "<p>&lt;script&gt;x&lt;/script&gt;</p><a href=\"https://x.example/\">x</a>")
        #expect(rendered.text == "<script>x</script>: A1")
    }

    @Test func headerFieldsLoseLineBreaks() throws {
        let rendered = try mail(["name": "李\r\nBcc: a@b.c", "orderId": "A1\nX-Evil: 1"])
        #expect(rendered.subject == "订单 A1X-Evil: 1 已发货")
        #expect(rendered.nickname == "客服 李Bcc: a@b.c")
    }

    @Test func missingRequiredParameterIsAnErrorNamingIt() {
        let result = renderer.render(template, channel: .site, parameters: ["name": "李"])
        #expect(result == .failure(.missingParameter("orderId", template: "order_shipped")))
        #expect("\(RenderError.missingParameter("orderId", template: "order_shipped"))"
                == "missing required parameter 'orderId' for template 'order_shipped'")
    }

    @Test func emptyValueCountsAsMissingForARequiredParameter() {
        let result = renderer.render(template, channel: .site, parameters: ["name": "", "orderId": "A1"])
        #expect(result == .failure(.missingParameter("name", template: "order_shipped")))
    }

    @Test func optionalParametersBecomeEmptyAndDefaultsApply() throws {
        let message = try renderer.render(template, channel: .site, parameters: ["name": "李", "orderId": "A1"]).get()
        #expect(message.content == .site(RenderedSite(nickname: "商城", type: "notification", content: "李 的订单 A1")))
        #expect(try mail(["name": "a", "orderId": "b", "url": ""]).html?.contains("https://x.example/") == true)
    }

    @Test func extraParametersAreKeptNotRejected() throws {
        let values = try renderer.resolve(template, parameters: ["name": "a", "orderId": "b", "coupon": "c"]).get()
        #expect(values["coupon"] == "c")
    }

    @Test(arguments: [
        ("en", "Order A1 shipped", "en"), ("en-US", "Order A1 shipped", "en"), ("EN_gb", "Order A1 shipped", "en"),
        ("zh-TW", "訂單 A1 已出貨", "zh-TW"), ("zh_tw", "訂單 A1 已出貨", "zh-TW"),
        ("zh-CN", "订单 A1 已发货", nil), ("zh", "订单 A1 已发货", nil), ("fr", "订单 A1 已发货", nil), ("", "订单 A1 已发货", nil),
    ] as [(String, String, String?)])
    func localeFallsBackFromRegionToLanguageToBase(locale: String, subject: String, matched: String?) throws {
        let message = try renderer.render(template, channel: .mail, parameters: ["name": "a", "orderId": "A1"], locale: locale).get()
        guard case let .mail(rendered) = message.content else { throw RenderError.noVariant(.mail, template: "") }
        #expect(rendered.subject == subject)
        #expect(message.locale == matched)
    }

    @Test func aLocaleWithoutTheChannelFallsBackToTheBaseVariant() throws {
        let message = try renderer.render(template, channel: .sms, parameters: ["name": "a", "orderId": "A1"], locale: "en").get()
        #expect(message.locale == nil)
    }

    @Test func smsCarriesParametersInContentOrderAndTheFirstChannelsSignature() throws {
        let message = try renderer.render(template, channel: .sms, parameters: ["name": "李", "orderId": "A1"]).get()
        #expect(message.content == .sms(RenderedSMS(
            channels: ["tencent", "aliyun"], apiTemplateID: "1234", content: "订单A1已发货，李请查收", signature: "云商城",
            parameters: [SMSParameter(name: "orderId", value: "A1"), SMSParameter(name: "name", value: "李")])))
    }

    @Test func aChannelTheTemplateLacksIsAnError() {
        #expect(renderer.render(template, channel: .wechatMP, parameters: [:])
                == .failure(.noVariant(.wechatMP, template: "order_shipped")))
    }
}
