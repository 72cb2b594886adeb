import Foundation
import Testing
import HeraldTestSupport

/// The built binary against careless and hostile input: every case ends with a clear reason, a
/// truthful exit code, and nothing lost, leaked or sent twice.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct HostileInputTests {
    static let configuration = TemporaryWorkspace.sampleConfiguration
    static let mailTemplate = "mail: {account: default, title: \"订单 {orderId}\", text: \"{name}：订单 {orderId}\"}\n"

    func workspace(_ files: [String: String]) throws -> TemporaryWorkspace {
        try TemporaryWorkspace(files: ["herald.yaml": Self.configuration].merging(files) { _, new in new })
    }

    func errors(_ workspace: TemporaryWorkspace) throws -> [String] {
        try workspace.logEvents().compactMap { ($0["error"] as? [String: Any])?["message"] as? String }
    }

    // MARK: - Echoed values

    /// A row's value is quoted in its error, but not whole when it is huge: a 1 MB timezone was
    /// written whole into one log line (issue 26).
    @Test func aHugeRowValueIsNotEchoedWholeIntoTheLog() throws {
        let huge = String(repeating: "亚", count: 300_000)
        let workspace = try workspace([
            "templates/order_shipped.yaml": Self.mailTemplate,
            "recipients/inbox/order_shipped.a.csv": """
                email,name,orderId,timezone,send_at,channels
                a@example.com,李雷,A1,\(huge),,
                b@example.com,李雷,A2,,\(huge),
                c@example.com,李雷,A3,,,\(huge)

                """,
        ])
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        let messages = try errors(workspace)
        #expect(messages.count == 3, "\(messages.map { $0.prefix(80) })")
        for message in messages {
            #expect(message.utf8.count < 1000, "\(message.prefix(120))… is \(message.utf8.count) bytes")
            #expect(message.contains("characters"), "says how long the value was: \(message.prefix(200))")
        }
        let log = try FileManager.default.contentsOfDirectory(at: workspace.url.appendingPathComponent("outbox/log"), includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "jsonl" }
        let bytes = try log.reduce(0) { $0 + (try Data(contentsOf: $1).count) }
        #expect(bytes < 20_000, "the log holds \(bytes) bytes for three rows")
    }

    /// An object or array where a parameter belongs was dropped and reported as missing (issue 26):
    /// the row says what the value is and what it must be.
    @Test func anObjectOrArrayParameterIsNamedForWhatItIs() throws {
        let workspace = try workspace([
            "templates/order_shipped.yaml": Self.mailTemplate,
            "recipients/inbox/order_shipped.a.jsonl": """
                {"email": "a@example.com", "name": {"first": "雷"}, "orderId": "A1"}
                {"email": "b@example.com", "name": "李雷", "params": {"orderId": ["A2"]}}
                {"email": "c@example.com", "name": "李雷", "orderId": 3}

                """,
        ])
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        let messages = try errors(workspace)
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.contains { $0.contains("'name' is an object") && $0.contains("a string or a number") }, "\(messages)")
        #expect(messages.contains { $0.contains("'orderId' is an array") }, "\(messages)")
        #expect(!messages.contains { $0.contains("missing required parameter") }, "\(messages)")
        #expect(try workspace.logEvents().filter { $0["status"] as? String == "sent" }.count == 1, "the row with a number is sent")
    }

    // MARK: - Attachments

    @Test func aRowCannotAttachTheWorkspacesOwnFiles() throws {
        let workspace = try workspace([
            "templates/order_shipped.yaml": Self.mailTemplate,
            "recipients/attachments/invoice.txt": "发票",
            "recipients/inbox/order_shipped.a.csv": """
                email,name,orderId,attachments
                a@example.com,李雷,A1,herald.yaml
                b@example.com,李雷,A2,outbox/herald.sqlite
                c@example.com,李雷,A3,recipients/attachments/../../herald.yaml
                d@example.com,李雷,A4,recipients/attachments/invoice.txt

                """,
        ])
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.status == 1)
        #expect(result.stdout.contains("mail        1        3      4"), "\(result.stdout)")
        let sent = try FileManager.default.subpathsOfDirectory(atPath: workspace.url.appendingPathComponent("outbox/sent").path)
            .filter { $0.hasSuffix(".eml") }
        #expect(sent.count == 1)
        #expect(try errors(workspace) == [
            "attachment 'herald.yaml' is not a file in templates/attachments/ or recipients/attachments/; attachments come only from those folders",
            "attachment 'outbox/herald.sqlite' is not a file in templates/attachments/ or recipients/attachments/; attachments come only from those folders",
            "attachment 'recipients/attachments/../../herald.yaml' climbs out with '..'",
        ])
    }

    @Test func checkFlagsATemplateAttachmentPathThatCanEscape() throws {
        let workspace = try workspace([
            "templates/invoice.yaml": "mail:\n  account: default\n  title: 发票\n  text: 见附件\n  attachments: [\"files/{file}\"]\n",
        ])
        let result = try runHerald(["check"], in: workspace.url)
        #expect(result.status == 2)
        #expect((result.stdout + result.stderr).contains("templates/invoice.yaml:5:17: error: attachment 'files/{file}' is outside templates/attachments/ and recipients/attachments/"),
                "\(result.stdout)\(result.stderr)")
    }
}

/// Lost recipients and wrong answers.
extension HostileInputTests {
    @Test func everyToOfHeraldSendIsARecipient() throws {
        let workspace = try workspace(["templates/order_shipped.yaml": Self.mailTemplate])
        let result = try runHerald(["send", "--template", "order_shipped", "--to", "mail:a@example.com", "--to", "mail:b@example.com",
                                    "--param", "name=李雷", "--param", "orderId=A1"], in: workspace.url)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == """
            channel  sent  total
            mail        2      2
            total       2      2

            """)
        let recipients = try workspace.logEvents().compactMap { $0["recipient"] as? String }
        #expect(recipients == ["a***@example.com", "b***@example.com"])
    }

    @Test func aFileSentInFullButNotMovableSaysWhatWasSent() throws {
        // processed/ on another file system: the rename fails (EXDEV) after every row was sent.
        let elsewhere = URL(fileURLWithPath: "/dev/shm/herald-processed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let workspace = try workspace([
            "templates/order_shipped.yaml": Self.mailTemplate,
            "recipients/inbox/order_shipped.a.csv": "email,name,orderId\na@example.com,李雷,A1\nb@example.com,李雷,\n",
        ])
        try FileManager.default.createSymbolicLink(at: workspace.url.appendingPathComponent("recipients/processed"), withDestinationURL: elsewhere)
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.status == 1)
        #expect(result.stdout.contains("mail        1        1      2"), "the rows are counted: \(result.stdout)")
        let explanation = try workspace.read("recipients/rejected/order_shipped.a.csv.error.txt")
        #expect(!explanation.contains("Nothing in this file was sent"))
        #expect(explanation.contains("""
            Before the problem, Herald handled rows of this file: 1 sent, 1 invalid (each is in outbox/log/). \
            Dropping the file again sends only what was not sent: the ledger knows the rest.
            """), "\(explanation)")
        #expect(explanation.hasPrefix("herald could not finish order_shipped.a.csv"))
    }
}

/// Crashes and hangs.
extension HostileInputTests {
    @Test func anUnwritableStandardErrorNeverCrashesHerald() throws {
        // A configuration error is printed on stderr, which is /dev/full: herald must still exit 2.
        let workspace = try workspace(["herald.yaml": "timezone: Mars/Olympus\n", "templates/a.yaml": "site: {content: hi}\n"])
        let result = try runProcess(URL(fileURLWithPath: "/bin/sh"),
                                    ["-c", "\"$0\" run --settle 0s 2>/dev/full; echo \"exit $?\"", heraldExecutable().path],
                                    currentDirectory: workspace.url)
        #expect(result.stdout.hasSuffix("exit 2\n"), "\(result.stdout)\(result.stderr)")
    }

    @Test func outOfRangeDurationsSizesAndRatesAreConfigurationErrors() throws {
        let workspace = try workspace([
            "templates/a.yaml": "site: {content: hi}\n",
            "herald.yaml": """
                timezone: Asia/Shanghai
                inbox: {settle: 99999999999999999999d}
                retry: {min_backoff: infs, max_age: 1e9s}
                mail:
                  accounts:
                    default: {transport: file, from: a@example.com, max_size: 99999999999999GB, rate: 99999999999/s}

                """,
        ])
        let check = try runHerald(["check"], in: workspace.url)
        #expect(check.status == 2)
        #expect(check.stdout + check.stderr == """
            herald.yaml:2:17: error: 'settle' in inbox is '99999999999999999999d'; write a duration like 500ms, 2s, 5m, 1h or 30d (at most 3650d)
            herald.yaml:3:22: error: 'min_backoff' in retry is 'infs'; write a duration like 500ms, 2s, 5m, 1h or 30d (at most 3650d)
            herald.yaml:3:37: error: 'max_age' in retry is '1e9s'; write a duration like 500ms, 2s, 5m, 1h or 30d (at most 3650d)
            herald.yaml:6:63: error: 'max_size' of mail account 'default' is '99999999999999GB'; write a size like 10MB or 512KB (at most 1024GB)
            herald.yaml:6:87: error: 'rate' in mail account 'default' is '99999999999/s'; write a rate like 20/s, 600/min or 10000/day (at most 1000000000 per period)
            herald check: 5 errors, 0 warnings

            """)
        let flag = try runHerald(["run", "--settle", "9999999999999d"], in: workspace.url)
        #expect(flag.status == 2)
        #expect(flag.stderr.hasPrefix("Error: --settle takes a duration like 0s, 2s or 1m (at most 3650d), got '9999999999999d'"), "\(flag.stderr)")
        let interval = try runHerald(["watch", "--interval", "soon"], in: workspace.url)
        #expect(interval.status == 2, "a bad --interval is an error, not a silent default")
    }

    @Test func aHostileLogLineDoesNotCrashTheReport() throws {
        let workspace = try workspace(["templates/a.yaml": "site: {content: hi}\n"])
        let day = "2026-11-27"
        try workspace.write("outbox/log/\(day).jsonl", """
            {"ts":"\(day)T10:00:00.000+08:00","message_id":"a","batch":"b","file":"f","status":"sent","attempt":1,"latency_ms":1e300}
            {"ts":"\(day)T10:00:00.000+08:00","message_id":"b","batch":"b","file":"f","status":"sent","attempt":99999999,"latency_ms":5}

            """)
        let report = try runHerald(["report", "--date", day, "--format", "csv"], in: workspace.url)
        #expect(report.status == 0, "\(report.stderr)")
        #expect(report.stderr.contains("\(day).jsonl:1: latency_ms is not a number"), "\(report.stderr)")
    }
}

/// Bad bytes, PII, and small lies.
extension HostileInputTests {
    @Test func controlCharactersMakeTheRowInvalidNamingTheColumn() throws {
        let workspace = try workspace([
            "herald.yaml": Self.configuration.replacingOccurrences(of: "site: {transport: file}", with: "site: {transport: inbox}"),
            "templates/hello.yaml": "site: {content: \"{name}，您好\"}\n",
        ])
        try workspace.write("recipients/inbox/hello.a.csv", Data("user_id,name\n1,李\u{0}雷\n2,韩\u{1B}[2J梅梅\n3,王\t小明\n".utf8))
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.status == 1)
        #expect(try errors(workspace) == [
            "column 'name' holds the control character U+0000 at character 2; remove it (only tab and line breaks are allowed in values)",
            "column 'name' holds the control character U+001B at character 2; remove it (only tab and line breaks are allowed in values)",
        ])
        let inbox = try runHerald(["inbox", "list", "--user", "3", "--json"], in: workspace.url)
        #expect(inbox.stdout.contains("王\\t小明，您好"), "a tab is allowed: \(inbox.stdout)")
        let none = try runHerald(["inbox", "list", "--user", "1", "--json"], in: workspace.url)
        #expect(!none.stdout.contains("李"), "nothing cut at the NUL was stored")
    }

    @Test func maskedLogsMaskAddressesInErrorMessagesAndTheLedger() throws {
        let workspace = try workspace([
            "templates/order_shipped.yaml": Self.mailTemplate,
            "recipients/inbox/order_shipped.a.csv": "email,mobile,name,orderId\nli.lei@example..com,,李雷,A1\n",
        ])
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        let lines = try workspace.logText()
        #expect(!lines.contains("li.lei"), "\(lines)")
        #expect(try errors(workspace) == ["email 'l***@example..com' is not a valid address: consecutive or trailing dots in the domain"])
        let ledger = try runPython("""
            import sqlite3, sys
            print("\\n".join(str(r[0]) for r in sqlite3.connect(sys.argv[1]).execute("select error_message from ledger")))
            """, [workspace.url.appendingPathComponent("outbox/herald.sqlite").path])
        #expect(ledger.stdout == "email 'l***@example..com' is not a valid address: consecutive or trailing dots in the domain\n")
    }

    @Test func reservedColumnsMatchInAnyCase() throws {
        let workspace = try workspace([
            "templates/order_shipped.yaml": Self.mailTemplate,
            "recipients/inbox/order_shipped.a.csv": "Email,Name,orderId\nli@example.com,李雷,A1\n",
            "recipients/inbox/order_shipped.b.csv": "Email,email,name,orderId\nli@example.com,li@example.com,李雷,A1\n",
        ])
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.stdout.contains("order_shipped.b.csv: rejected → recipients/rejected/order_shipped.b.csv.error.txt: line 1: columns 'Email' and 'email' both name the reserved column 'email'"),
                "\(result.stdout)")
        // `Email` is the address; `Name` stays a parameter (parameters keep their case), so {name} is missing.
        #expect(try errors(workspace) == ["missing required parameter 'name' for template 'order_shipped'; fill the name column or declare a default"])
    }

    @Test func aMobileAfterPlus86NeedsElevenDigits() throws {
        let workspace = try workspace([
            "templates/code.yaml": "sms: {channel: aliyun, api_template_id: SMS_1, content: \"验证码{code}\"}\n",
        ])
        let result = try runHerald(["send", "--template", "code", "--to", "sms:+86138001380001", "--param", "code=1234"], in: workspace.url)
        #expect(result.status == 1)
        #expect(try workspace.logEvents().first?["status"] as? String == "invalid")
    }

    @Test func anAnnouncementThatEndsBeforeItStartsIsRefused() throws {
        let workspace = try workspace([
            "templates/a.yaml": "site: {content: hi}\n",
            "recipients/inbox/maintenance.notice.json": #"{"title": "维护", "content": "今晚维护", "starts": "2026-12-02T08:00:00+08:00", "ends": "2026-12-01T08:00:00+08:00"}"#,
        ])
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.status == 1)
        #expect(run.stdout.contains("maintenance.notice.json: rejected → recipients/rejected/maintenance.notice.json.error.txt: the announcement ends (2026-12-01T00:00:00.000Z) before it starts (2026-12-02T00:00:00.000Z), so nobody would ever see it; fix starts or ends"),
                "\(run.stdout)")
        // Issue 26's class of mistake: a key given twice (the last one silently winning) is refused here too.
        try workspace.write("recipients/inbox/twice.notice.json", #"{"title": "维护", "content": "今晚维护", "tenant": "0", "tenant": "1"}"#)
        let twice = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(twice.stdout.contains("twice.notice.json: rejected → recipients/rejected/twice.notice.json.error.txt: the key 'tenant' appears twice"),
                "\(twice.stdout)")
        let cli = try runHerald(["notice", "publish", "--title", "t", "--content", "c",
                                 "--starts", "2026-12-02T08:00:00+08:00", "--ends", "2026-12-02T08:00:00+08:00"], in: workspace.url)
        #expect(cli.status == 2)
        #expect(cli.stderr.contains("the announcement ends"), "\(cli.stderr)")
        let list = try runHerald(["notice", "list"], in: workspace.url)
        #expect(!list.stdout.contains("维护") && !list.stdout.contains(" t "), "nothing was published: \(list.stdout)")
    }

    @Test func unsubscribeLinksMustBeAbsoluteHTTPOrMailto() throws {
        let workspace = try workspace([
            "templates/promo.yaml": "category: marketing\nmail: {account: default, title: 促销, text: 促销}\n",
            "recipients/inbox/promo.a.csv": """
                email,unsubscribe_url
                a@example.com,javascript:alert(1)
                b@example.com,"https://x.example.com/u
                Bcc: victim@example.com"
                c@example.com,/unsubscribe
                d@example.com,https://x.example.com/u?id=4

                """,
        ])
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.stdout.contains("mail        1        3      4"), "\(result.stdout)")
        #expect(try errors(workspace) == [
            "unsubscribe link 'javascript:alert(1)' must be an absolute https:, http: or mailto: URL",
            "unsubscribe link 'https://x.example.com/u\\nBcc: victim@example.com' contains the control character U+000A, which would break the List-Unsubscribe header",
            "unsubscribe link '/unsubscribe' must be an absolute https:, http: or mailto: URL",
        ])
        try workspace.write("templates/bad.yaml", "mail: {account: default, title: t, text: t, unsubscribe: \"javascript:void({x})\"}\n")
        let check = try runHerald(["check"], in: workspace.url)
        #expect((check.stdout + check.stderr).contains("templates/bad.yaml:1:58: error: unsubscribe link 'javascript:void({x})' must be an absolute https:, http: or mailto: URL"),
                "\(check.stdout)\(check.stderr)")
    }

    @Test func anEnvironmentReferenceInAFieldThatTakesNoneIsAnError() throws {
        let workspace = try workspace([
            "templates/a.yaml": "site: {content: hi}\n",
            "herald.yaml": """
                sms:
                  channels:
                    aliyun: {transport: aliyun, signature: 云商城, access_key_id: "${ALIYUN_KEY_ID}", access_key_secret: "${ALIYUN_SECRET}"}

                """,
        ])
        let check = try runHerald(["check"], in: workspace.url, environment: ["ALIYUN_KEY_ID": "LTAI", "ALIYUN_SECRET": "s"])
        #expect(check.status == 2)
        #expect((check.stdout + check.stderr).hasPrefix("""
            herald.yaml:3:64: error: 'access_key_id' in sms channel 'aliyun' is '${ALIYUN_KEY_ID}', but only secret fields \
            (password, access_key_secret, secret_key, secret, app_secret, token, store.url) and worker.name read ${NAME} from the environment; \
            write the value itself
            """), "\(check.stdout)\(check.stderr)")
    }

    @Test func aKilledRunLeavesNoTemporariesInTheSentFolder() throws {
        let rows = (1...4000).map { "u\($0)@example.com,李雷,A\($0)" }.joined(separator: "\n")
        let workspace = try workspace([
            "templates/order_shipped.yaml": Self.mailTemplate,
            "recipients/inbox/order_shipped.big.csv": "email,name,orderId\n" + rows + "\n",
            "outbox/sent/.tmp/a.eml.4242.tmp": "left by a run killed mid-write",
        ])
        let process = try startHerald(["run", "--settle", "0s"], in: workspace.url)
        let sent = workspace.url.appendingPathComponent("outbox/sent/mail/order_shipped.big")
        waitUntil(seconds: 30) { ((try? FileManager.default.contentsOfDirectory(atPath: sent.path).count) ?? 0) >= 200 }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let all = try FileManager.default.subpathsOfDirectory(atPath: workspace.url.appendingPathComponent("outbox/sent").path)
        #expect(!all.contains { ($0 as NSString).lastPathComponent.hasPrefix(".dat.nosync") }, "no Foundation temporaries beside sent files")
        #expect(!all.contains { $0.hasPrefix(".tmp/a.eml") }, "the next start removed what an earlier kill left")
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        let after = try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("outbox/sent/.tmp").path)
        #expect(after.isEmpty, "\(after)")
    }
}
