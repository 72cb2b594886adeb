import Foundation
import Testing
import HeraldTestSupport

/// The built binary against careless and hostile input: every case ends with a clear reason, a
/// truthful exit code, and nothing lost, leaked or sent twice.
@Suite struct HostileInputTests {
    static let configuration = TemporaryWorkspace.sampleConfiguration
    static let mailTemplate = "mail: {account: default, title: \"订单 {orderId}\", text: \"{name}：订单 {orderId}\"}\n"

    func workspace(_ files: [String: String]) throws -> TemporaryWorkspace {
        try TemporaryWorkspace(files: ["herald.yaml": Self.configuration].merging(files) { _, new in new })
    }

    func events(_ workspace: TemporaryWorkspace) throws -> [[String: Any]] {
        let folder = workspace.url.appendingPathComponent("outbox/log")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path))?.filter { $0.hasSuffix(".jsonl") }.sorted() ?? []
        return try names.flatMap { name in
            try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8).split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
    }

    func errors(_ workspace: TemporaryWorkspace) throws -> [String] {
        try events(workspace).compactMap { ($0["error"] as? [String: Any])?["message"] as? String }
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
        let recipients = try events(workspace).compactMap { $0["recipient"] as? String }
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
