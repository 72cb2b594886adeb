import Foundation
import Testing
import HeraldChannels
import HeraldCore
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct MailConfigurationTests {
    func load(_ yaml: String, environment: [String: String] = [:], secretsOptional: Bool = false) throws -> (Configuration?, [Diagnostic]) {
        let workspace = try TemporaryWorkspace(files: ["herald.yaml": yaml, "certs/ca.pem": "x"])
        return Configuration.load(from: workspace.url, environment: environment, secretsOptional: secretsOptional, channels: .builtIn)
    }

    static let account = """
        mail:
          accounts:
            exmail:
              transport: smtp
              host: smtp.exmail.qq.com
              security: ssl
              username: noreply@shop.example.com
              password: ${HERALD_EXMAIL_PASSWORD}
              from: noreply@shop.example.com
              connections: 3
              timeout: 15s
              rate: 10/s
              max_size: 20MB
              ca_file: certs/ca.pem

        """

    @Test func anSMTPAccountWithItsSecretFromTheEnvironment() throws {
        let (configuration, diagnostics) = try load(Self.account, environment: ["HERALD_EXMAIL_PASSWORD": "授权码abc"])
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let account = try #require(configuration?.mailAccounts["exmail"])
        let smtp = try #require(account.smtp)
        #expect(account.transport == .smtp)
        #expect(smtp.host == "smtp.exmail.qq.com")
        #expect(smtp.port == 465, "ssl defaults to 465")
        #expect(smtp.security == .ssl)
        #expect(smtp.password?.value == "授权码abc")
        #expect("\(smtp.password!)" == "${HERALD_EXMAIL_PASSWORD}", "a secret prints as its variable, never its value")
        #expect(smtp.connections == 3)
        #expect(smtp.timeout == .seconds(15))
        #expect(smtp.caFile?.hasSuffix("certs/ca.pem") == true)
        #expect(account.rate == RateLimit(count: 10, period: .seconds(1)))
        #expect(account.maxSize == 20 << 20)
    }

    @Test func anUnsetSecretIsAnErrorForARunAndAWarningForCheck() throws {
        let location = SourceLocation(file: "herald.yaml", line: 8, column: 17)
        let message = "environment variable HERALD_EXMAIL_PASSWORD (password of mail account 'exmail') is not set"
        #expect(try load(Self.account).1 == [.error(message, at: location)])
        #expect(try load(Self.account, secretsOptional: true).1 == [.warning(message, at: location)])
    }

    @Test func literalSecretsAndCleartextToARemoteHostAreErrors() throws {
        let (_, diagnostics) = try load("""
            mail:
              accounts:
                bad:
                  transport: smtp
                  host: smtp.163.com
                  security: none
                  username: a@163.com
                  password: hunter2
                  from: a@163.com
                  ca_file: certs/missing.pem
                  rate: fast

            """)
        #expect(diagnostics.sortedByLocation() == [
            .error("security: none sends passwords and mail in clear text; it is allowed only for a loopback host, and mail account 'bad' uses 'smtp.163.com'; use starttls or ssl",
                   at: SourceLocation(file: "herald.yaml", line: 6, column: 17)),
            .error("'password' of mail account 'bad' is written literally; secrets come only from the environment: write password: ${HERALD_PASSWORD} and export that variable",
                   at: SourceLocation(file: "herald.yaml", line: 8, column: 17)),
            .error("ca_file 'certs/missing.pem' of mail account 'bad' does not exist",
                   at: SourceLocation(file: "herald.yaml", line: 10, column: 16)),
            .error("'rate' in mail account 'bad' is 'fast'; write a rate like 20/s, 600/min or 10000/day (at most 1000000000 per period)",
                   at: SourceLocation(file: "herald.yaml", line: 11, column: 13)),
        ].sortedByLocation())
        #expect(!diagnostics.contains { $0.message.contains("hunter2") }, "a literal secret is not repeated in the error")
    }

    @Test func noneIsFineOnLoopbackAndSMTPIsForMailOnly() throws {
        let (_, diagnostics) = try load("""
            mail:
              accounts:
                local: {transport: smtp, host: 127.0.0.1, port: 2525, security: none, from: a@b.cn}
            sms:
              channels:
                x: {transport: smtp}

            """)
        #expect(diagnostics == [.error("sms channel 'x' cannot use transport smtp; it is for mail accounts",
                                       at: SourceLocation(file: "herald.yaml", line: 6, column: 20))])
    }

    @Test func retryPolicyWithOverridesAndLimits() throws {
        let (configuration, diagnostics) = try load("""
            retry: {min_backoff: 1m, max_backoff: 30m, max_age: 12h, max_attempts: 6}
            caps:
              sms: [1/min, 3/hour]
              mail: {marketing: [2/day], default: [none]}
              verification_max_wait: 30s
            quiet_hours: {marketing: "21:00-08:00"}
            pipeline: {burst_failures: 5}
            mail:
              accounts:
                exmail: {transport: file, from: a@b.cn, rate: 10/s, retry: {max_attempts: 2}}
            sms:
              channels:
                aliyun: {transport: file, rate: 600/min, retry: {min_backoff: 10s}}

            """)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let c = try #require(configuration)
        #expect(c.retry == RetryPolicy(minBackoff: .seconds(60), maxBackoff: .seconds(1800), maxAge: .seconds(43_200), maxAttempts: 6))
        #expect(c.retryPolicy(channel: .mail, account: "exmail").maxAttempts == 2)
        #expect(c.retryPolicy(channel: .mail, account: "exmail").minBackoff == .seconds(60), "an override keeps the rest of the top-level policy")
        #expect(c.retryPolicy(channel: .sms, account: "aliyun").minBackoff == .seconds(10))
        #expect(c.recipientCaps(channel: .sms, category: .transactional) == [RateLimit(count: 1, period: .seconds(60)), RateLimit(count: 3, period: .seconds(3600))])
        #expect(c.recipientCaps(channel: .mail, category: .marketing) == [RateLimit(count: 2, period: .seconds(86_400))])
        #expect(c.recipientCaps(channel: .mail, category: .transactional).isEmpty)
        #expect(c.verificationMaxWait == .seconds(30))
        #expect(c.quietHours[.marketing] == QuietHours(start: 21 * 60, end: 8 * 60))
        #expect(c.burstFailures == 5)
        #expect(c.rate(channel: .sms, account: "aliyun") == RateLimit(count: 600, period: .seconds(60)))
        #expect(c.rate(channel: .mail, account: "exmail") == RateLimit(count: 10, period: .seconds(1)))
    }

    @Test(arguments: [("20/s", 20, 1), ("600/min", 600, 60), ("1000/h", 1000, 3600), ("10000/day", 10000, 86400)])
    func rates(text: String, count: Int, seconds: Int64) {
        #expect(RateLimit.parse(text) == RateLimit(count: count, period: .seconds(seconds)))
    }

    @Test func sizes() {
        #expect(SizeText.parse("25MB") == 25 << 20)
        #expect(SizeText.parse("512 KB") == 512 << 10)
        #expect(SizeText.parse("1048576") == 1 << 20)
        #expect(SizeText.parse("big") == nil)
    }
}

@Suite(.timeLimit(.minutes(1))) struct AttachmentPolicyTests {
    @Test func attachmentsMustBeFilesInTheAttachmentFoldersAndFitTheLimit() throws {
        let workspace = try TemporaryWorkspace(files: ["recipients/attachments/a.pdf": String(repeating: "x", count: 3000),
                                                       "templates/attachments/guide.txt": "guide"])
        let policy = AttachmentPolicy(root: workspace.url, maxSize: ["default": 10_000, "tiny": 2000])
        func mail(_ paths: [String], account: String = "default") -> RenderedMail {
            RenderedMail(account: account, subject: "s", text: "t", attachments: paths)
        }
        #expect(policy.check(mail(["recipients/attachments/a.pdf", "templates/attachments/guide.txt"])) == nil)
        #expect(policy.check(mail([workspace.url.appendingPathComponent("recipients/attachments/a.pdf").path])) == nil,
                "an absolute path inside an attachment folder is fine")
        #expect(policy.check(mail(["recipients/attachments/none.pdf"])) == StageFailure(.invalid, code: "attachment_missing",
            "attachment 'recipients/attachments/none.pdf' does not exist"))
        #expect(policy.check(mail(["recipients/attachments"]))?.code == "attachment_not_allowed", "the folder itself is not in it")
        #expect(policy.check(mail(["recipients/attachments/a.pdf"], account: "tiny"))?.code == "message_too_large")
    }

    @Test func theWorkspacesOwnFilesCannotBeAttached() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "timezone: Asia/Shanghai\n", "outbox/herald.sqlite": "secret inboxes and tokens",
            "recipients/attachments/ok.txt": "ok", "recipients/attachments/.env": "SECRET=1", ".git/config": "[core]",
            "templates/attachments/sub/file.txt": "x",
        ])
        let folder = workspace.url.appendingPathComponent("recipients/attachments")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("leak.txt").path,
                                                   withDestinationPath: workspace.url.appendingPathComponent("herald.yaml").path)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("zero").path, withDestinationPath: "/dev/zero")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("linked.txt").path,
                                                   withDestinationPath: "../../templates/attachments/sub/file.txt")
        #expect(mkfifo(folder.appendingPathComponent("pipe").path, 0o600) == 0)
        let policy = AttachmentPolicy(root: workspace.url)
        func reason(_ path: String) -> String? {
            policy.check(RenderedMail(account: "default", subject: "s", text: "t", attachments: [path]))?.reason
        }
        let outside = "is not a file in templates/attachments/ or recipients/attachments/; attachments come only from those folders"
        #expect(reason("herald.yaml") == "attachment 'herald.yaml' \(outside)")
        #expect(reason("outbox/herald.sqlite") == "attachment 'outbox/herald.sqlite' \(outside)")
        #expect(reason("/etc/passwd") == "attachment '/etc/passwd' \(outside)")
        #expect(reason("recipients/attachments/../../herald.yaml") == "attachment 'recipients/attachments/../../herald.yaml' climbs out with '..'")
        #expect(reason("recipients/attachments/.env") == "attachment 'recipients/attachments/.env' names a hidden file or folder ('.env')")
        #expect(reason(".git/config") == "attachment '.git/config' names a hidden file or folder ('.git')")
        #expect(reason("recipients/attachments/leak.txt") == "attachment 'recipients/attachments/leak.txt' \(outside)",
                "a symlink that leaves the folders is judged by where it leads")
        #expect(reason("recipients/attachments/zero") == "attachment 'recipients/attachments/zero' \(outside)")
        #expect(reason("recipients/attachments/pipe") == "attachment 'recipients/attachments/pipe' is not a regular file")
        #expect(reason("recipients/attachments/linked.txt") == nil, "a link from one attachment folder into the other is fine")
        #expect(reason("recipients/attachments/ok.txt") == nil)
    }

    @Test func templateAttachmentPathsOutsideTheFoldersAreFlagged() {
        func problem(_ path: String) -> String? { AttachmentPolicy.templatePathProblem(TemplateText(path)) }
        #expect(problem("templates/attachments/guide.pdf") == nil)
        #expect(problem("recipients/attachments/{file}") == nil, "a row's value is checked when the row is sent")
        #expect(problem("files/{file}") == "attachment 'files/{file}' is outside templates/attachments/ and recipients/attachments/; attachments come only from those folders (write e.g. templates/attachments/guide.pdf)")
        #expect(problem("{file}")?.hasPrefix("attachment '{file}' is outside") == true)
        #expect(problem("herald.yaml")?.hasPrefix("attachment 'herald.yaml' is outside") == true)
        #expect(problem("templates/attachments/../../herald.yaml") == "attachment 'templates/attachments/../../herald.yaml' climbs out with '..'")
    }
}
