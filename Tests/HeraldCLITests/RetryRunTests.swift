import Foundation
import Testing
import HeraldTestSupport

/// Retries through the spool against a real SMTP server (aiosmtpd) on 127.0.0.1. The backoff is
/// zero, so each `herald run` finds the spool due without the test sleeping; backoff times
/// themselves are tested with an injected clock and jitter in SpoolFlowTests.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3))) struct RetryRealServerTests {
    func configuration(port: Int, maxAttempts: Int = 5, burst: Int = 20) -> String {
        """
        retry: {min_backoff: 0s, max_backoff: 0s, max_attempts: \(maxAttempts)}
        pipeline: {burst_failures: \(burst)}
        log: {recipients: full}
        mail:
          accounts:
            relay: {transport: smtp, host: 127.0.0.1, port: \(port), security: none, from: noreply@shop.example.com, timeout: 10s}

        """
    }

    func workspace(port: Int, rows: Int, maxAttempts: Int = 5, burst: Int = 20) throws -> TemporaryWorkspace {
        let batch = "email,name\n" + (1...rows).map { "user\($0)@example.com,用户\($0)" }.joined(separator: "\n") + "\n"
        return try TemporaryWorkspace(files: [
            "herald.yaml": configuration(port: port, maxAttempts: maxAttempts, burst: burst),
            "templates/notice.yaml": "mail: {account: relay, title: \"通知 {name}\", text: \"{name}，您好\"}\n",
            "recipients/inbox/notice.csv": batch,
        ])
    }

    func spoolCount(_ workspace: TemporaryWorkspace, dead: Bool = false) -> Int {
        let folder = workspace.url.appendingPathComponent(dead ? "outbox/spool/dead" : "outbox/spool")
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".json") }.count
    }

    @Test func greylistedMessagesAreRetriedWithBackoffUntilDelivered() throws {
        let server = try SMTPTestServer(failFirst: 2)
        let workspace = try workspace(port: server.port, rows: 4)
        let first = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(first.stdout.contains("mail            4      4"), "\(first.stdout)")
        #expect(first.status == 0)
        #expect(spoolCount(workspace) == 4)
        var runs = 1
        while spoolCount(workspace) > 0 && runs < 20 {
            _ = try runHerald(["run"], in: workspace.url)
            runs += 1
        }
        #expect(spoolCount(workspace) == 0)
        #expect(server.stats.messages == 4)
        let lines = try workspace.logEvents().filter { $0["recipient"] as? String == "user1@example.com" }
        #expect(lines.map { "\($0["attempt"] ?? "")-\($0["status"] ?? "")" } == ["1-deferred", "2-deferred", "3-sent"])
        #expect(lines[0]["next_attempt"] is String)
        #expect((lines[1]["error"] as? [String: Any])?["message"] as? String == "451 4.7.1 Greylisted, try again later (attempt 2)")
    }

    @Test func alwaysFailingMessagesEndInDeadAndSpoolRetryBringsThemBack() throws {
        let broken = try SMTPTestServer(rcptReply: "451 4.3.2 System not accepting network messages")
        let workspace = try workspace(port: broken.port, rows: 1, maxAttempts: 3)
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        for _ in 0..<12 where spoolCount(workspace, dead: true) == 0 {
            _ = try runHerald(["run"], in: workspace.url)
        }
        #expect(spoolCount(workspace, dead: true) == 1)
        #expect(spoolCount(workspace) == 0)
        let last = try #require(try workspace.logEvents().last)
        #expect(last["status"] as? String == "failed")
        #expect(last["attempt"] as? Int == 3)
        #expect(((last["error"] as? [String: Any])?["message"] as? String)?.contains("dead letter: gave up after 3 attempts") == true)
        let list = try runHerald(["spool", "list", "--dead"], in: workspace.url)
        #expect(list.stdout.contains("user1@example.com") && list.stdout.hasSuffix("1 dead message\n"))

        let healthy = try SMTPTestServer()
        try workspace.write("herald.yaml", configuration(port: healthy.port, maxAttempts: 3))
        let retry = try runHerald(["spool", "retry", "--all-dead"], in: workspace.url)
        #expect(retry.stdout == "1 message back in the spool; the next `herald run` sends them\n")
        let run = try runHerald(["run"], in: workspace.url)
        #expect(run.stdout.hasPrefix("spool: 1 due message tried again"), "\(run.stdout)")
        #expect(healthy.stats.messages == 1)
        #expect(spoolCount(workspace) == 0 && spoolCount(workspace, dead: true) == 0)
    }

    @Test func aBurstOfFailuresPausesTheTransportAndSpoolsTheRest() throws {
        let broken = try SMTPTestServer(rcptReply: "451 4.3.0 Temporary failure")
        let workspace = try workspace(port: broken.port, rows: 10, burst: 3)
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.stdout.contains("paused mail/relay: 3 failures in a row on smtp 'mail/relay'"), "\(result.stdout)")
        #expect(spoolCount(workspace) == 10, "nothing is lost: the unsent rest waits in the spool")
        let lines = try workspace.logEvents()
        #expect(lines.filter { ($0["error"] as? [String: Any])?["code"] as? String == "transport_paused" }.count == 7)
        #expect(lines.filter { ($0["error"] as? [String: Any])?["code"] as? String == "451" }.count == 3)
    }
}
