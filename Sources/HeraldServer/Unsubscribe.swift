import Foundation
import HeraldCore
import Hummingbird

/// One-click unsubscribe (RFC 8058) for the links in marketing mail: `POST` opts the address out
/// of the token's category at once (mail clients send `List-Unsubscribe=One-Click`); `GET` only
/// shows a confirmation page whose button posts, so link scanners that follow links change
/// nothing. A token that is not genuine is a 404. Verification and system mail are never blocked.
/// The opt-out holds in the tenant the mail was sent for (the token says which), not in others.
struct UnsubscribePages {
    let workspace: Workspace
    /// Where the opt-out is recorded (preferences.csv, or the shared store).
    let optOuts: any OptOutStore

    /// The claim of a genuine token for a category that may be opted out of, or 404.
    func claim(_ token: String) throws -> UnsubscribeToken.Claim {
        guard let settings = workspace.configuration.unsubscribe,
              let claim = UnsubscribeToken.verify(token, secret: settings.secret.value),
              claim.category != .verification, claim.category != .system else {
            throw APIError.notFound("no such unsubscribe link")
        }
        return claim
    }

    func confirm(_ token: String) throws -> Response {
        let claim = try claim(token)
        return page(title: "退订确认", body: """
            <p>不再向 <b>\(escape(masked(claim.address)))</b> 发送 \(escape(categoryName(claim.category)))邮件？</p>
            <form method="post"><button type="submit">确认退订</button></form>
            """)
    }

    func unsubscribe(_ token: String) async throws -> Response {
        let claim = try claim(token)
        let store = optOuts
        _ = try await store.recordOptOut(address: claim.address, channel: .mail, category: claim.category, tenant: claim.tenant, at: Date())
        return page(title: "已退订", body: "<p>已退订：<b>\(escape(masked(claim.address)))</b> 不会再收到\(escape(categoryName(claim.category)))邮件。</p>")
    }

    private func masked(_ address: String) -> String { RecipientMasking.masked.apply(address, channel: .mail) }

    private func categoryName(_ category: TemplateCategory) -> String {
        switch category {
        case .marketing: "营销"
        case .transactional: "通知"
        default: category.rawValue
        }
    }

    private func escape(_ text: String) -> String {
        Escaping.html.apply(text)
    }

    private func page(title: String, body: String) -> Response {
        let html = """
            <!doctype html>
            <html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <link rel="icon" href="data:,"><title>\(title)</title>
            <style>body{font-family:system-ui,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:2rem;max-width:32rem}
            button{font-size:1rem;padding:.5rem 1.2rem}</style></head>
            <body><h1>\(title)</h1>\(body)</body></html>
            """
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
