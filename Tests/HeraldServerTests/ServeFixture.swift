import Foundation
import HeraldTestSupport
import Testing

/// A workspace with site messages in two tenants, an announcement, SMS channels on Aliyun and
/// Tencent Cloud (spoken by a local server), and `serve:` with two clients.
struct ServeFixture {
    static let shopToken = "shop-token-0123456789abcdef"
    static let partnerToken = "partner-token-0123456789abcdef"
    static let receiptSecret = "receipt-secret-0123456789"
    static let appToken = "app-token-0123456789abcdef"
    static let unsubscribeSecret = "unsubscribe-secret-0123456789"
    static let environment = SMSProviderTestServer.environment.merging(
        ["TEST_SHOP_TOKEN": shopToken, "TEST_PARTNER_TOKEN": partnerToken, "TEST_RECEIPT_SECRET": receiptSecret,
         "TEST_APP_TOKEN": appToken, "TEST_UNSUBSCRIBE_SECRET": unsubscribeSecret]) { _, new in new }

    let workspace: TemporaryWorkspace
    let sms: SMSProviderTestServer

    init() throws {
        sms = try SMSProviderTestServer()
        workspace = try TemporaryWorkspace(files: [
            "herald.yaml": """
                timezone: Asia/Shanghai
                site: {transport: inbox}
                caps: {sms: [none]}
                mail:
                  unsubscribe: {base_url: "https://notify.example.com", secret: "${TEST_UNSUBSCRIBE_SECRET}"}
                  accounts:
                    default: {transport: file, from: noreply@shop.example.com}
                \(sms.channelsYAML)serve:
                  max_body: 4KB
                  clients:
                    shop: {token: "${TEST_SHOP_TOKEN}", tenants: [0, 1]}
                    partner: {token: "${TEST_PARTNER_TOKEN}", tenants: ["2"]}
                    app: {token: "${TEST_APP_TOKEN}", tenants: [0], scopes: [inbox, send]}
                  receipts: {secret: "${TEST_RECEIPT_SECRET}"}

                """,
            "templates/order_shipped.yaml": """
                name: 订单发货通知
                site: {nickname: 商城助手, content: "{name}，您的订单 {orderId} 已发货。"}
                sms: {channel: aliyun, api_template_id: SMS_1, content: "订单{orderId}已发货"}

                """,
            "recipients/inbox/order_shipped.a.csv": """
                user_id,tenant_id,mobile,name,orderId
                1,0,13800130000,李雷,A1
                1,0,,李雷,A2
                2,0,,韩梅梅,A3
                1,2,,Partner Lee,B1

                """,
        ])
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: Self.environment)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let notice = try runHerald(["notice", "publish", "--title", "系统维护", "--content", "今晚 23:00 维护", "--tenant", "0"],
                                   in: workspace.url, environment: Self.environment)
        #expect(notice.status == 0, "\(notice.stderr)")
    }

    func serve() throws -> ServeProcess {
        try ServeProcess(workspace: workspace.url, environment: Self.environment)
    }

    /// Files waiting in `recipients/inbox/receipts/<channel>/`.
    func storedReceipts(_ channel: String) -> [String] {
        let folder = workspace.url.appendingPathComponent("recipients/inbox/receipts/\(channel)")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }
}
