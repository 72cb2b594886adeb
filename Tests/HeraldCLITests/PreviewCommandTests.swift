import Foundation
import Testing
import HeraldTestSupport

/// `herald preview`, run as the built binary.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct PreviewCommandTests {
    static let template = """
        code: order_shipped
        name: 订单发货通知
        params:
          name: {required: true}
          orderId: {required: true}
        mail:
          account: default
          nickname: 云商城客服
          title: "【云商城】您的订单 {orderId} 已发货 — {name}"
          html: "<style>p { color: #333 }</style><p>{name}，您的订单 <b>{orderId}</b> 已发货。</p>"
          text: "{name}，您的订单 {orderId} 已发货。"
        sms:
          channel: aliyun
          api_template_id: SMS_154950909
          content: "{name}，您的订单{orderId}已发货"
        locales:
          en:
            mail: {nickname: Cloud Shop, title: "Order {orderId} shipped", text: "Hi {name}", html: "<p>Hi {name}</p>"}

        """

    func workspace() throws -> TemporaryWorkspace {
        try TemporaryWorkspace(files: ["herald.yaml": TemporaryWorkspace.sampleConfiguration,
                                       "templates/order_shipped.yaml": Self.template])
    }

    @Test func mailPreviewRoundTripsThroughPythonsEmailParserWithEscapedHTML() throws {
        let workspace = try workspace()
        let name = "李<script>alert('x')</script>"
        let result = try runHerald(["preview", "order_shipped", "--param", "name=\(name)", "--param", "orderId=A1001",
                                    "--out", "previews"], in: workspace.url)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            wrote \(workspace.url.path)/previews/order_shipped.mail.eml
            wrote \(workspace.url.path)/previews/order_shipped.sms.txt

            """)
        let eml = try Data(contentsOf: workspace.url.appendingPathComponent("previews/order_shipped.mail.eml"))
        let parsed = try parseWithPython(eml)
        #expect(parsed.subject == "【云商城】您的订单 A1001 已发货 — \(name)")
        #expect(parsed.fromName == "云商城客服")
        #expect(parsed.fromAddress == "noreply@shop.example.com")
        #expect(parsed.text == "\(name)，您的订单 A1001 已发货。")
        #expect(parsed.html == "<style>p { color: #333 }</style><p>李&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;，您的订单 <b>A1001</b> 已发货。</p>")
        #expect(parsed.defects.isEmpty)
        #expect(Array(parsed.headers.prefix(7)) == ["Date", "From", "To", "Message-ID", "Subject", "MIME-Version", "Content-Type"])
    }

    @Test func localePicksTheEnglishMail() throws {
        let workspace = try workspace()
        let result = try runHerald(["preview", "order_shipped", "--param", "name=Li", "--param", "orderId=A1",
                                    "--channel", "mail", "--locale", "en-US"], in: workspace.url)
        let parsed = try parseWithPython(Data(result.stdout.utf8))
        #expect(parsed.subject == "Order A1 shipped")
        #expect(parsed.fromName == "Cloud Shop")
    }

    @Test func smsPreviewShowsTheSignedTextAndItsLength() throws {
        let workspace = try workspace()
        let result = try runHerald(["preview", "order_shipped", "--param", "name=李雷", "--param", "orderId=A1001",
                                    "--channel", "sms"], in: workspace.url)
        #expect(result.stdout == """
            【云商城】李雷，您的订单A1001已发货
            channel: aliyun · api_template_id: SMS_154950909
            parameters: name=李雷, orderId=A1001
            length: 20 characters, UCS-2, 1 part

            """)
        #expect(result.status == 0)
    }

    @Test func aMissingParameterIsNamedAndExits1() throws {
        let workspace = try workspace()
        let result = try runHerald(["preview", "order_shipped", "--param", "name=李雷"], in: workspace.url)
        #expect(result.stderr == "herald preview: missing required parameter 'orderId' for template 'order_shipped'; pass --param orderId=VALUE\n")
        #expect(result.stdout.isEmpty)
        #expect(result.status == 1)
    }

    @Test func anUnknownTemplateSuggestsTheNearestCode() throws {
        let workspace = try workspace()
        let result = try runHerald(["preview", "order_shiped"], in: workspace.url)
        #expect(result.stderr == "herald preview: no template 'order_shiped' in templates/; did you mean 'order_shipped'?\n")
        #expect(result.status == 2)
    }
}
