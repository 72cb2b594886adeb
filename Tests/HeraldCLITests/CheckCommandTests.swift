import Foundation
import Testing
import HeraldTestSupport
import HeraldCore

/// `herald check`, run as the built binary; whole output compared.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct CheckCommandTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theShippedSamplesAreClean() throws {
        let result = try runHerald(["check", "-C", Self.repositoryRoot.path], in: FileManager.default.temporaryDirectory)
        #expect(result.stdout == "herald check: herald.yaml and templates are valid\n")
        #expect(result.status == 0)
    }

    @Test func eachProblemIsOneLineWithItsPlaceAndTheExitCodeIs2() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": TemporaryWorkspace.sampleConfiguration,
            "templates/typo.yaml": """
                name: 拼写错误
                mail:
                  account: default
                  tilte: "订单 {orderId}"
                  text: "您的订单 {orderId}"

                """,
            "templates/undeclared.yaml": """
                params:
                  orderId: {required: true}
                sms:
                  channel: aliyun
                  api_template_id: SMS_1
                  content: "订单{orderId}由{courier}配送"

                """,
            "templates/no_account.yaml": """
                mail:
                  title: "您好"
                  text: "正文"

                """,
            "templates/Bad-Name.yaml": "site: {content: x}\n",
        ])
        let result = try runHerald(["check"], in: workspace.url)
        #expect(result.stdout == """
            templates/Bad-Name.yaml:1:1: error: file name 'Bad-Name.yaml' is not a valid template code ([a-z0-9_]+); rename it to 'bad_name.yaml'
            templates/no_account.yaml:2:3: error: mail variant has no 'account'; add `account:`
            templates/typo.yaml:4:3: error: unknown key 'tilte' in mail variant; did you mean 'title'?
            templates/undeclared.yaml:6:12: error: placeholder {courier} is not declared in params; add `courier: {required: true}` under params
            herald check: 4 errors, 0 warnings

            """)
        #expect(result.status == 2)
    }

    @Test func warningsAloneExitWith1() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": TemporaryWorkspace.sampleConfiguration,
            "templates/old.yaml": "status: disabled\nsite: {content: x}\n",
        ])
        let result = try runHerald(["check", "--workspace", workspace.url.path], in: FileManager.default.temporaryDirectory)
        #expect(result.stdout == """
            templates/old.yaml:1:9: warning: template 'old' is disabled; its rows will be recorded as skipped
            herald check: 0 errors, 1 warning

            """)
        #expect(result.status == 1)
    }

    @Test func aMalformedHeraldYAMLStopsEveryCommandWithExit2() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "mail:\n  accounts: [oops\n",
            "templates/a.yaml": "site: {content: x}\n",
        ])
        let check = try runHerald(["check"], in: workspace.url)
        #expect(check.stdout.hasPrefix("herald.yaml:3:1: error: YAML syntax: "))
        #expect(check.status == 2)
        let preview = try runHerald(["preview", "a"], in: workspace.url)
        #expect(preview.stderr.hasPrefix("herald.yaml:3:1: error: YAML syntax: "))
        #expect(preview.stdout.isEmpty)
        #expect(preview.status == 2)
    }
}

/// The command line around every command: the workspace option on either side, and the version.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct CommandLineTests {
    @Test func theWorkspaceOptionMayComeBeforeTheCommandAsInGit() throws {
        let workspace = try TemporaryWorkspace(files: ["herald.yaml": "timezone: Asia/Shanghai\n", "templates/a.yaml": "site: {content: hi}\n"])
        let elsewhere = FileManager.default.temporaryDirectory
        for arguments in [["-C", workspace.url.path, "check"], ["check", "-C", workspace.url.path],
                          ["--workspace=\(workspace.url.path)", "check"], ["-C", workspace.url.path, "inbox", "unread-count", "--user", "1"]] {
            let result = try runHerald(arguments, in: elsewhere)
            #expect(result.status == 0, "\(arguments): \(result.stdout)\(result.stderr)")
            #expect(result.stdout.hasPrefix(arguments.contains("check") ? "herald check: herald.yaml and templates are valid\n" : "0"),
                    "\(arguments): \(result.stdout)")
        }
    }

    @Test func versionIsTheOneTheReportAndHealthzShow() throws {
        let result = try runHerald(["--version"], in: FileManager.default.temporaryDirectory)
        #expect(result.status == 0)
        #expect(result.stdout == HeraldVersion.current + "\n")
    }
}
