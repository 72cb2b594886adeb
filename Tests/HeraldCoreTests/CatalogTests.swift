import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct CatalogTests {
    static let orderShipped = """
        code: order_shipped
        name: 订单发货通知
        category: transactional
        params:
          orderId: {required: true}
          name: {required: false, default: 顾客}
        site: {nickname: 商城助手, content: "您的订单 {orderId} 已发货"}
        mail:
          account: default
          nickname: 商城客服
          title: "订单 {orderId} 已发货"
          html: "<style>p { color: red }</style><p>{name}</p>"
          text: "您的订单 {orderId} 已发货。"
        sms: {channel: [aliyun, tencent], api_template_id: SMS_1, content: "您的订单{orderId}已发货"}
        locales:
          en:
            mail: {title: "Order {orderId} shipped", text: "Hi {name}"}

        """

    @Test func loadsTemplatesWithVariantsLocalesAndParameters() throws {
        let workspace = try TemporaryWorkspace(files: [
            "templates/order_shipped.yaml": Self.orderShipped,
            "templates/notes.txt": "not a template",
        ])
        let (catalog, diagnostics) = TemplateCatalog.load(from: workspace.url)
        #expect(diagnostics.isEmpty)
        #expect(catalog.codes == ["order_shipped"])
        let template = try #require(catalog["order_shipped"])
        #expect(template.name == "订单发货通知")
        #expect(template.category == .transactional)
        #expect(template.status == .enabled)
        #expect(template.channels == [.site, .mail, .sms])
        #expect(template.placeholders == ["orderId", "name"])
        #expect(template.parameters == [ParameterDeclaration(name: "orderId"),
                                        ParameterDeclaration(name: "name", required: false, defaultValue: "顾客")])
        #expect(template.base.sms?.channels == ["aliyun", "tencent"])
        #expect(template.file == "templates/order_shipped.yaml")
    }

    @Test func aLocaleOverridesOnlyTheFieldsItNames() throws {
        let workspace = try TemporaryWorkspace(files: ["templates/order_shipped.yaml": Self.orderShipped])
        let template = try #require(TemplateCatalog.load(from: workspace.url).0["order_shipped"])
        let english = try #require(template.locales["en"]?.mail)
        #expect(english.account == "default")
        #expect(english.nickname == TemplateText("商城客服"))
        #expect(english.title == TemplateText("Order {orderId} shipped"))
        #expect(english.html == TemplateText("<style>p { color: red }</style><p>{name}</p>"))
        #expect(template.locales["en"]?.site == nil)
    }

    @Test func withoutDeclaredParamsEveryPlaceholderIsRequired() throws {
        let workspace = try TemporaryWorkspace(files: [
            "templates/hello.yaml": "site: {content: \"{a} and {b} and {a}\"}\n",
        ])
        let template = try #require(TemplateCatalog.load(from: workspace.url).0["hello"])
        #expect(template.parameters == [ParameterDeclaration(name: "a"), ParameterDeclaration(name: "b")])
        #expect(template.name == "hello")
    }

    @Test func theShippedSamplesLoadCleanly() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let diagnostics = WorkspaceCheck.run(root: root, environment: [:])
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let workspace = try Workspace.open(at: root, environment: [:])
        #expect(workspace.catalog.codes.count >= 3)
        let channels = Set(workspace.catalog.codes.flatMap { workspace.catalog[$0]?.channels ?? [] })
        #expect(channels == Set(Channel.allCases))
        #expect(workspace.catalog.codes.contains { !(workspace.catalog[$0]?.locales.isEmpty ?? true) })
    }
}
