import Foundation
import HeraldCore
import HeraldTestSupport
import Testing

/// One-click unsubscribe end to end: the headers of a marketing mail (read by Python's `email`),
/// a real `herald serve` honouring the link, and the next run respecting the opt-out while
/// verification mail still goes.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3))) struct UnsubscribeTests {
    typealias F = ServeFixture

    @Test func aMarketingMailCarriesASignedOneClickLinkThatServeHonours() async throws {
        let fixture = try ServeFixture()
        let workspace = fixture.workspace
        try workspace.write("templates/promo.yaml", """
            category: marketing
            mail: {account: default, title: "双十二优惠", text: "{name}，全场八折。"}

            """)
        try workspace.write("templates/login_code.yaml", """
            category: verification
            mail: {account: default, title: "验证码", text: "您的验证码是 {code}"}

            """)
        try workspace.write("recipients/inbox/promo.a.csv", "email,name\npromo@example.com,李雷\n")
        let first = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: F.environment)
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        let folder = workspace.url.appendingPathComponent("outbox/sent/mail/promo.a")
        let eml = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".eml") })
        let mail = try parseWithPython(Data(contentsOf: folder.appendingPathComponent(eml)))
        let header = try #require(mail.listUnsubscribe?.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(mail.listUnsubscribePost == "List-Unsubscribe=One-Click")
        #expect(header.hasPrefix("<https://notify.example.com/v1/unsubscribe/") && header.hasSuffix(">"))
        let token = String(header.dropFirst("<https://notify.example.com/v1/unsubscribe/".count).dropLast())
        #expect(UnsubscribeToken.verify(token, secret: F.unsubscribeSecret)?.address == "promo@example.com")

        let server = try fixture.serve()
        let page = try await server.request("GET", "/v1/unsubscribe/\(token)")
        #expect(page.status == 200 && page.body.contains("确认退订") && page.body.contains("<form method=\"post\">"))
        #expect(!workspace.exists("recipients/preferences.csv"), "a GET (a link scanner) changes nothing")
        var forged = token
        forged.removeLast()
        forged.append(token.last == "0" ? "1" : "0")
        #expect(try await server.request("POST", "/v1/unsubscribe/\(forged)").status == 404, "a changed token is not honoured")
        let done = try await server.request("POST", "/v1/unsubscribe/\(token)", body: Data("List-Unsubscribe=One-Click".utf8))
        #expect(done.status == 200 && done.body.contains("已退订"))
        #expect(try workspace.read("recipients/preferences.csv").contains(",promo@example.com,mail,marketing,true"))
        _ = server.stop()

        try workspace.write("recipients/inbox/promo.b.csv", "email,name\npromo@example.com,李雷\n")
        try workspace.write("recipients/inbox/login_code.c.csv", "email,code\npromo@example.com,123456\n")
        // Issue 26: opt-outs carried no tenant, so tenant 0's link silenced every tenant's mail.
        try workspace.write("recipients/inbox/promo.d.csv", "email,name,tenant_id\npromo@example.com,李雷,1\n")
        let later = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: F.environment)
        let events = try workspace.logEvents()
        #expect(events.first { $0["file"] as? String == "promo.b.csv" }?["status"] as? String == "suppressed", "\(later.stdout)")
        #expect(events.first { $0["file"] as? String == "login_code.c.csv" }?["status"] as? String == "sent",
                "verification mail is never blocked by it")
        #expect(events.first { $0["file"] as? String == "promo.d.csv" }?["status"] as? String == "sent",
                "the opt-out holds in the tenant whose mail carried the link, not in tenant 1")
        #expect(try workspace.read("recipients/preferences.csv").contains(",promo@example.com,mail,marketing,true,0\n"))
    }
}
