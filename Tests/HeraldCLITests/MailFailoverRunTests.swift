import Foundation
import Testing
import HeraldTestSupport

/// Mail account failover and daily quotas end to end: `account: [primary, backup]` against two
/// SMTP servers on loopback.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct MailFailoverRunTests {
    func workspace(primary: String, backup: Int, quota: Int? = nil, accounts: String = "[primary, backup]", rows: Int) throws -> TemporaryWorkspace {
        let limit = quota.map { ", daily_quota: \($0)" } ?? ""
        let batch = "email,name\n" + (1...rows).map { "user\($0)@example.com,用户\($0)" }.joined(separator: "\n") + "\n"
        return try TemporaryWorkspace(files: [
            "herald.yaml": """
                timezone: Asia/Shanghai
                mail:
                  accounts:
                    primary: {transport: smtp, \(primary), security: none, from: noreply@shop.example.com, timeout: 5s\(limit)}
                    backup: {transport: smtp, host: 127.0.0.1, port: \(backup), security: none, from: noreply@mail2.shop.example.com, timeout: 5s}
                log: {recipients: full}

                """,
            "templates/welcome.yaml": "mail: {account: \(accounts), title: \"欢迎 {name}\", text: \"{name}，欢迎您！\"}\n",
            "recipients/inbox/welcome.csv": batch,
        ])
    }

    func accounts(_ workspace: TemporaryWorkspace) throws -> [String] {
        try workspace.logEvents().filter { $0["file"] as? String == "welcome.csv" }.map { "\($0["status"] ?? "") \($0["account"] ?? "")" }
    }

    @Test func aTransientFailureMovesTheMessageToTheNextAccount() throws {
        let greylisting = try SMTPTestServer(rcptReply: "451 4.7.1 Greylisted, please try again later")
        let backup = try SMTPTestServer()
        let workspace = try workspace(primary: "host: 127.0.0.1, port: \(greylisting.port)", backup: backup.port, rows: 3)
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("mail        3      3"), "\(run.stdout)")
        #expect(try accounts(workspace) == ["sent backup", "sent backup", "sent backup"])
        #expect(try backup.received().count == 3)
        let line = try #require(try workspace.logEvents().first)
        let extra = try #require(line["extra"] as? [String: Any])
        #expect((extra["failover"] as? String)?.hasPrefix("primary: 451") == true, "\(extra)")
    }

    @Test func aRefusedConnectionFailsOverAndAPermanentRejectionDoesNot() throws {
        let backup = try SMTPTestServer()
        // A port nothing listens on: connection refused.
        let closed = try SMTPTestServer()
        let closedPort = closed.port
        closed.stop()
        let refused = try workspace(primary: "host: 127.0.0.1, port: \(closedPort)", backup: backup.port, rows: 2)
        let run = try runHerald(["run", "--settle", "0s"], in: refused.url)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(try accounts(refused) == ["sent backup", "sent backup"])

        let rejecting = try SMTPTestServer(rcptReply: "550 5.1.1 Recipient address rejected: User unknown")
        let other = try SMTPTestServer()
        let permanent = try workspace(primary: "host: 127.0.0.1, port: \(rejecting.port)", backup: other.port, rows: 1)
        let failed = try runHerald(["run", "--settle", "0s"], in: permanent.url)
        #expect(failed.status == 1)
        #expect(try accounts(permanent) == ["failed primary"], "a permanent failure is not tried elsewhere")
        #expect(other.stats.connections == 0)
    }

    // Issue 26: a server that took the whole message and then dropped the connection (or
    // answered after the timeout) made Herald hand the message to the next account too: both
    // servers held it. After the final dot a lost reply is `outcome_unknown`, not a failover.
    @Test func aReplyLostAfterTheFinalDotIsNotHandedToAnotherAccount() throws {
        let dropping = try SMTPTestServer(dropAfterData: true)
        let backup = try SMTPTestServer()
        let workspace = try workspace(primary: "host: 127.0.0.1, port: \(dropping.port)", backup: backup.port, rows: 2)
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.status == 1, "a message that may not have arrived needs a look: \(run.stdout)")
        #expect(dropping.stats.messages == 2, "the first server has both")
        let shown = try accounts(workspace)
        #expect(backup.stats.connections == 0, "and no second server was asked: \(shown)")
        let lines = try workspace.logEvents().filter { $0["file"] as? String == "welcome.csv" }
        #expect(lines.count == 2 && lines.allSatisfy { ($0["error"] as? [String: Any])?["code"] as? String == "outcome_unknown" },
                "\(lines)")
        #expect(run.stdout.contains("outcome_unknown") || run.stdout.contains("failed"), "counted: \(run.stdout)")
        let spooled = ((try? FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("outbox/spool").path)) ?? [])
            .filter { $0.hasSuffix(".json") }
        #expect(spooled.isEmpty, "nor spooled to be sent again: \(spooled)")

        // The operator may prefer a possible duplicate to a possible loss.
        let dropping2 = try SMTPTestServer(dropAfterData: true)
        let backup2 = try SMTPTestServer()
        let optIn = try TemporaryWorkspace(files: [
            "herald.yaml": """
                timezone: Asia/Shanghai
                mail:
                  accounts:
                    primary: {transport: smtp, host: 127.0.0.1, port: \(dropping2.port), security: none, from: noreply@shop.example.com, timeout: 5s, resend_unconfirmed: true}
                    backup: {transport: smtp, host: 127.0.0.1, port: \(backup2.port), security: none, from: noreply@mail2.shop.example.com, timeout: 5s}

                """,
            "templates/welcome.yaml": "mail: {account: [primary, backup], title: \"欢迎 {name}\", text: \"{name}，欢迎您！\"}\n",
            "recipients/inbox/welcome.csv": "email,name\nuser1@example.com,用户1\n",
        ])
        let resent = try runHerald(["run", "--settle", "0s"], in: optIn.url)
        #expect(resent.status == 0, "\(resent.stdout)\(resent.stderr)")
        #expect(dropping2.stats.messages == 1 && backup2.stats.messages == 1, "both hold it: what the operator chose")
    }

    @Test func overTheDailyQuotaTheNextAccountSendsOrTheMessageWaitsForMidnight() throws {
        let primary = try SMTPTestServer(), backup = try SMTPTestServer()
        let both = try workspace(primary: "host: 127.0.0.1, port: \(primary.port)", backup: backup.port, quota: 2, rows: 5)
        let run = try runHerald(["run", "--settle", "0s"], in: both.url)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(try primary.received().count == 2 && backup.received().count == 3)

        // A second run the same day: the quota is spent, kept in outbox/herald.sqlite.
        try both.write("recipients/inbox/welcome.2.csv", "email,name\nlate@example.com,迟到\n")
        _ = try runHerald(["run", "--settle", "0s"], in: both.url)
        #expect(try primary.received().count == 2 && backup.received().count == 4)

        // With no account to move to, the message is deferred to midnight in herald.yaml's zone.
        let alone = try SMTPTestServer()
        let single = try workspace(primary: "host: 127.0.0.1, port: \(alone.port)", backup: backup.port, quota: 1,
                                   accounts: "primary", rows: 2)
        let held = try runHerald(["run", "--settle", "0s"], in: single.url)
        #expect(held.status == 0, "deferred is not a failure: \(held.stdout)")
        #expect(try alone.received().count == 1)
        let deferred = try #require(try single.logEvents().first { $0["status"] as? String == "deferred" })
        let error = try #require(deferred["error"] as? [String: Any])
        #expect(error["code"] as? String == "quota_exceeded")
        #expect((error["message"] as? String)?.contains("over its daily quota of 1; deferred to ") == true)
        #expect((deferred["next_attempt"] as? String)?.hasSuffix("T00:00:00.000+08:00") == true, "\(deferred)")
    }

    @Test func checkRefusesAnUnknownOrRepeatedAccountInTheList() throws {
        let server = try SMTPTestServer()
        let unknown = try workspace(primary: "host: 127.0.0.1, port: \(server.port)", backup: server.port, accounts: "[primary, nowhere]", rows: 1)
        let check = try runHerald(["check"], in: unknown.url)
        #expect(check.status == 2)
        #expect(check.stdout.contains("templates/welcome.yaml:1:17: error: mail account 'nowhere' is not defined in herald.yaml"), "\(check.stdout)")

        let twice = try workspace(primary: "host: 127.0.0.1, port: \(server.port)", backup: server.port, accounts: "[primary, primary]", rows: 1)
        let again = try runHerald(["check"], in: twice.url)
        #expect(again.status == 2 && again.stdout.contains("'account' names an account twice"), "\(again.stdout)")
    }
}
