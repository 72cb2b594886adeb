import Foundation
import Testing
import HeraldTestSupport

/// `herald trace` on the shipped samples: one user's messages on every channel, with the
/// 站内信's read time, a deferred message's spool state and a bounce.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct TraceRunTests {
    func samples() throws -> TemporaryWorkspace {
        let workspace = try TemporaryWorkspace()
        let files = FileManager.default, repository = SampleRunTests.repository
        try files.copyItem(at: repository.appendingPathComponent("herald.yaml"), to: workspace.url.appendingPathComponent("herald.yaml"))
        try files.copyItem(at: repository.appendingPathComponent("templates"), to: workspace.url.appendingPathComponent("templates"))
        try files.createDirectory(at: workspace.url.appendingPathComponent("recipients/inbox"), withIntermediateDirectories: true)
        for name in try files.contentsOfDirectory(atPath: repository.appendingPathComponent("recipients/samples").path) {
            try files.copyItem(at: repository.appendingPathComponent("recipients/samples/\(name)"),
                               to: workspace.url.appendingPathComponent("recipients/inbox/\(name)"))
        }
        return workspace
    }

    @Test func aUsersMessagesOnEveryChannelWithReadTimeSpoolStateAndBounce() throws {
        let workspace = try samples()
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")

        let traced = try runHerald(["trace", "--user", "1", "--json"], in: workspace.url)
        #expect(traced.status == 0, "\(traced.stderr)")
        let messages = try #require((try JSONSerialization.jsonObject(with: Data(traced.stdout.utf8)) as? [String: Any])?["messages"] as? [[String: Any]])
        let channels = messages.compactMap { $0["channel"] as? String }
        #expect(Set(channels).isSuperset(of: ["site", "mail", "sms"]), "\(channels)")
        let site = try #require(messages.first { $0["channel"] as? String == "site" && $0["template"] as? String == "order_shipped" })
        #expect(site["read"] as? Bool == false)
        let deferred = try #require(messages.first { ($0["ledger"] as? [String: Any])?["status"] as? String == "deferred" })
        #expect((deferred["spool"] as? [String: Any])?["state"] as? String == "waiting", "a capped SMS waits in the spool: \(deferred)")

        // The user reads the 站内信; a bounce comes back for the mail.
        let list = try runHerald(["inbox", "list", "--user", "1", "--json"], in: workspace.url)
        let items = try #require((try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["items"] as? [[String: Any]])
        let inboxID = try #require(items.first { $0["template"] as? String == "order_shipped" }?["id"] as? String)
        #expect(try runHerald(["inbox", "read", "--user", "1", inboxID], in: workspace.url).status == 0)
        let mail = try #require(messages.first { $0["channel"] as? String == "mail" && $0["template"] as? String == "order_shipped" })
        let mailID = try #require(mail["message_id"] as? String)
        try workspace.write("bounce.eml", BounceFixtures.postfix(id: mailID, recipient: "li.lei@example.com"))
        #expect(try runHerald(["bounces", "ingest", "bounce.eml"], in: workspace.url).status == 0)

        let text = try runHerald(["trace", "--to", "LI.LEI@example.com"], in: workspace.url)
        #expect(text.status == 0)
        #expect(text.stdout.contains("\(mailID)  mail  order_shipped  order_shipped.2026-11-27.csv row 1  to l***@example.com"), "\(text.stdout)")
        #expect(text.stdout.contains("undelivered  bounce"), "\(text.stdout)")
        #expect(text.stdout.contains("5.1.1: 550 5.1.1 <l***@example.com>: Recipient address rejected"))
        #expect(text.stdout.contains("now  ledger: undelivered"))
        #expect(!text.stdout.contains("li.lei@"), "addresses stay masked")

        let byID = try runHerald(["trace", try #require(site["message_id"] as? String)], in: workspace.url)
        #expect(byID.stdout.contains("now  ledger: sent  ·  read 20"), "\(byID.stdout)")

        let none = try runHerald(["trace", "--user", "nobody"], in: workspace.url)
        #expect(none.status == 1 && none.stdout == "nothing found\n")
        let both = try runHerald(["trace", "x", "--user", "1"], in: workspace.url)
        #expect(both.status == 2 && both.stderr.contains("give one of"))
        let badDay = try runHerald(["trace", "--user", "1", "--since", "../etc"], in: workspace.url)
        #expect(badDay.status == 2 && badDay.stderr.contains("--since is a day"))
    }
}
