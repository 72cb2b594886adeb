import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

/// One-click unsubscribe tokens and their configuration.
@Suite(.timeLimit(.minutes(1))) struct UnsubscribeTokenTests {
    static let secret = "unsubscribe-secret-0123456789"

    @Test func aTokenSaysWhoAndWhatAndCannotBeForgedOrGuessed() {
        let token = UnsubscribeToken.make(address: "李雷@example.com", category: .marketing, tenant: "7", secret: Self.secret)
        let claim = UnsubscribeToken.verify(token, secret: Self.secret)
        #expect(claim?.address == "李雷@example.com" && claim?.category == .marketing && claim?.tenant == "7")
        #expect(UnsubscribeToken.verify(token, secret: "another-secret-0123456789") == nil, "another secret")
        let other = UnsubscribeToken.make(address: "han@example.com", category: .marketing, tenant: "7", secret: Self.secret)
        let spliced = String(other.split(separator: ".")[0]) + "." + String(token.split(separator: ".")[1])
        #expect(UnsubscribeToken.verify(spliced, secret: Self.secret) == nil, "another address under this signature")
        for bad in ["", ".", "x.y", token + "0", String(repeating: "a", count: 5000), "../../etc.00"] {
            #expect(UnsubscribeToken.verify(bad, secret: Self.secret) == nil, "\(bad.prefix(20))")
        }
        #expect(UnsubscribeToken.verify(token, secret: "") == nil, "no secret, no claims")
        #expect(!token.contains("/") && !token.contains("+") && !token.contains("="), "safe in a URL path")
    }

    @Test func mistakesInMailUnsubscribeAndTemplatesArePointedAt() throws {
        func check(_ yaml: String, template: String, environment: [String: String] = ["US": Self.secret]) throws -> [String] {
            let workspace = try TemporaryWorkspace(files: ["herald.yaml": yaml, "templates/promo.yaml": template])
            do {
                let opened = try Workspace.open(at: workspace.url, environment: environment)
                return opened.warnings.map(\.description)
            } catch let error as DiagnosticsError {
                return ["\(error)"]
            }
        }
        let account = "  accounts:\n    default: {transport: file, from: noreply@shop.example.com}\n"
        let promo = "category: marketing\nmail: {account: default, title: \"优惠\", text: \"优惠\"}\n"
        #expect(try check("mail:\n" + account, template: promo).contains { $0.contains("marketing mail with no way to unsubscribe") })
        #expect(try check("mail:\n  unsubscribe: {base_url: \"https://n.example.com\", secret: \"${US}\"}\n" + account, template: promo).isEmpty)
        #expect(try check("mail:\n  unsubscribe: {base_url: \"ftp://n\", secret: \"${US}\"}\n" + account, template: promo)
            .contains { $0.contains("herald.yaml:2:") && $0.contains("base_url") })
        #expect(try check("mail:\n" + account, template: "mail: {account: default, title: \"t\", text: \"t\", unsubscribe: one-click}\n")
            .contains { $0.contains("asks for unsubscribe: one-click") })
    }
}
