import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

/// Every `herald check` diagnostic, compared whole: file, line, column, severity and message.
@Suite(.timeLimit(.minutes(1))) struct CheckTests {
    func check(_ templates: [String: String], configuration: String = TemporaryWorkspace.sampleConfiguration) throws -> [Diagnostic] {
        var files = templates.reduce(into: [String: String]()) { $0["templates/\($1.key)"] = $1.value }
        files["herald.yaml"] = configuration
        let workspace = try TemporaryWorkspace(files: files)
        return WorkspaceCheck.run(root: workspace.url, environment: [:])
    }

    func error(_ file: String, _ line: Int, _ column: Int, _ message: String) -> Diagnostic {
        .error(message, at: SourceLocation(file: file, line: line, column: column))
    }

    @Test func misspeltKeyGetsADidYouMeanAndNoSecondComplaint() throws {
        let diagnostics = try check(["typo.yaml": """
            mail:
              account: default
              tilte: "您好 {name}"
              text: "正文 {name}"

            """])
        #expect(diagnostics == [error("templates/typo.yaml", 3, 3, "unknown key 'tilte' in mail variant; did you mean 'title'?")])
    }

    @Test func unknownKeyFarFromAnyNameListsTheChoices() throws {
        let diagnostics = try check(["odd.yaml": "site: {content: x, colour: red}\n"])
        #expect(diagnostics == [error("templates/odd.yaml", 1, 20, "unknown key 'colour' in site variant; expected one of nickname, type, content")])
    }

    @Test func undeclaredPlaceholderAndUnusedDeclaration() throws {
        let diagnostics = try check(["undeclared.yaml": """
            params:
              name: {required: true}
              unused: {required: false}
            site:
              content: "您好 {name}，订单 {orderId}"

            """])
        #expect(diagnostics == [
            error("templates/undeclared.yaml", 3, 3, "parameter 'unused' is declared in params but no field uses {unused}; remove it or use it"),
            error("templates/undeclared.yaml", 5, 12, "placeholder {orderId} is not declared in params; add `orderId: {required: true}` under params"),
        ])
    }

    @Test func placeholderUsedOnlyInALocaleMustBeDeclaredToo() throws {
        let diagnostics = try check(["loc.yaml": """
            params: {a: {}}
            site: {content: "{a}"}
            locales:
              en:
                site: {content: "{a} {b}"}

            """])
        #expect(diagnostics == [error("templates/loc.yaml", 5, 21, "placeholder {b} is not declared in params; add `b: {required: true}` under params")])
    }

    @Test func requiredFieldsOfEachVariant() throws {
        let diagnostics = try check(["fields.yaml": """
            mail: {title: t, text: b}
            sms: {content: c}
            wechat_mp: {app: mp}
            site: {nickname: n}

            """])
        let file = "templates/fields.yaml"
        #expect(diagnostics == [
            error(file, 1, 7, "mail variant has no 'account'; add `account:`"),
            error(file, 2, 6, "sms variant has no 'api_template_id'; add `api_template_id:`"),
            error(file, 2, 6, "sms variant has no 'channel'; add `channel:` naming an SMS channel of herald.yaml"),
            error(file, 3, 12, "wechat_mp variant has no 'data'; add `data:` with the template's keys"),
            error(file, 3, 12, "wechat_mp variant has no 'template_id'; add `template_id:`"),
            error(file, 4, 7, "site variant has no 'content'; add `content:`"),
        ])
    }

    @Test func mailNeedsABody() throws {
        let diagnostics = try check(["nobody.yaml": "mail: {account: default, title: t}\n"])
        #expect(diagnostics == [error("templates/nobody.yaml", 1, 7, "mail variant has neither 'html' nor 'text'; add a body")])
    }

    @Test func badFileNameIsReportedWithARename() throws {
        let diagnostics = try check(["Bad-Name.yaml": "site: {content: x}\n"])
        #expect(diagnostics == [error("templates/Bad-Name.yaml", 1, 1,
                                      "file name 'Bad-Name.yaml' is not a valid template code ([a-z0-9_]+); rename it to 'bad_name.yaml'")])
    }

    @Test func duplicateCodesAcrossExtensions() throws {
        let diagnostics = try check(["dup.yaml": "site: {content: x}\n", "dup.yml": "site: {content: y}\n"])
        #expect(diagnostics == [error("templates/dup.yml", 1, 1, "duplicate template code 'dup': templates/dup.yaml defines it already")])
    }

    @Test func codeFieldMustMatchTheFileName() throws {
        let diagnostics = try check(["order.yaml": "code: order_paid\nsite: {content: x}\n"])
        #expect(diagnostics == [error("templates/order.yaml", 1, 7,
                                      "code 'order_paid' does not match the file name; the file stem is the code, so use 'order' or rename the file")])
    }

    @Test func unknownNamesInHeraldYAML() throws {
        let diagnostics = try check(["refs.yaml": """
            mail: {account: defualt, title: t, text: b}
            sms: {channel: [aliyun, nope], api_template_id: X, content: c}
            wechat_mini: {app: mp, template_id: T, data: {thing1: x}}
            wechat_mp: {app: ghost, template_id: T, data: {first: x}}

            """])
        let file = "templates/refs.yaml"
        #expect(diagnostics == [
            error(file, 1, 17, "mail account 'defualt' is not defined in herald.yaml; did you mean 'default'?"),
            error(file, 2, 16, "sms channel 'nope' is not defined in herald.yaml; defined: aliyun, tencent"),
            error(file, 3, 20, "wechat app 'mp' is of kind official_account, but this variant needs a mini_program app"),
            error(file, 4, 18, "wechat app (official_account) 'ghost' is not defined in herald.yaml; defined: mini, mp"),
        ])
    }

    @Test func disabledTemplatesAreAWarning() throws {
        let diagnostics = try check(["old.yaml": "status: disabled\nsite: {content: x}\n"])
        #expect(diagnostics == [.warning("template 'old' is disabled; its rows will be recorded as skipped",
                                         at: SourceLocation(file: "templates/old.yaml", line: 1, column: 9))])
    }

    @Test func wrongEnumValueSuggestsTheNearestChoice() throws {
        let diagnostics = try check(["cat.yaml": "category: marketting\nsite: {content: x}\n"])
        #expect(diagnostics == [error("templates/cat.yaml", 1, 11,
                                      "'category' in template is 'marketting'; expected one of verification, transactional, marketing, system (did you mean 'marketing'?)")])
    }

    @Test func templateWithoutChannels() throws {
        let diagnostics = try check(["empty.yaml": "name: 空\n"])
        #expect(diagnostics == [error("templates/empty.yaml", 1, 1,
                                      "template defines no channel; add at least one of site, mail, sms, wechat_mp, wechat_mini, wecom, dingtalk, feishu")])
    }

    @Test func yamlSyntaxErrorPointsAtTheParserMark() throws {
        let diagnostics = try check(["broken.yaml": "site:\n  content: [unclosed\n"])
        #expect(diagnostics == [error("templates/broken.yaml", 3, 1,
                                      "YAML syntax: did not find expected ',' or ']' while parsing a flow sequence that started at line 2, column 12")])
    }

    @Test func duplicateKeysAreASyntaxError() throws {
        let diagnostics = try check(["twice.yaml": "name: a\nname: b\nsite: {content: x}\n"])
        #expect(diagnostics == [error("templates/twice.yaml", 1, 1, "YAML syntax: duplicate key 'name'; each key may appear once")])
    }

    @Test func heraldYAMLProblemsPointIntoIt() throws {
        let diagnostics = try check(["ok.yaml": "site: {content: x}\n"], configuration: """
            timezone: Mars/Olympus
            mail:
              accounts:
                default: {transport: sendmail, from: not-an-address}
                other: {from: a@b.example}
            sms:
              chanels: {}
            retries: 3

            """)
        #expect(diagnostics == [
            .error("unknown time zone 'Mars/Olympus'; use an IANA name such as Asia/Shanghai", at: SourceLocation(file: "herald.yaml", line: 1, column: 11)),
            .error("'transport' in mail account 'default' is 'sendmail'; expected one of file, discard, smtp, inbox, aliyun, tencent, webhook, wechat, wecom, wecom_robot, dingtalk, dingtalk_robot, feishu, feishu_robot", at: SourceLocation(file: "herald.yaml", line: 4, column: 26)),
            .error("'from' of mail account 'default' is 'not-an-address', not an email address", at: SourceLocation(file: "herald.yaml", line: 4, column: 42)),
            .error("mail account 'other' has no 'transport'; add `transport: file`", at: SourceLocation(file: "herald.yaml", line: 5, column: 5)),
            .error("unknown key 'chanels' in sms; did you mean 'channels'?", at: SourceLocation(file: "herald.yaml", line: 7, column: 3)),
            .error("unknown key 'retries' in herald.yaml; expected one of timezone, inbox, pipeline, log, retry, caps, quiet_hours, preferences, watch, site, mail, sms, wechat, wecom, dingtalk, feishu, serve, store, worker", at: SourceLocation(file: "herald.yaml", line: 8, column: 1)),
        ])
    }

    @Test func missingHeraldYAMLIsAnErrorAtTheFile() throws {
        let workspace = try TemporaryWorkspace(files: ["templates/a.yaml": "site: {content: x}\n"])
        let diagnostics = WorkspaceCheck.run(root: workspace.url, environment: [:])
        #expect(diagnostics == [error("herald.yaml", 1, 1, "no herald.yaml in \(workspace.url.path); create one (see README) or pass -C DIR")])
        #expect(throws: DiagnosticsError.self) { try Workspace.open(at: workspace.url, environment: [:]) }
    }
}

@Suite(.timeLimit(.minutes(1))) struct SMSLengthCheckTests {
    @Test func anSMSLongerThanOnePartIsAWarning() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": TemporaryWorkspace.sampleConfiguration,
            "templates/long.yaml": "sms:\n  channel: aliyun\n  api_template_id: SMS_1\n  content: \"\(String(repeating: "长", count: 66)){code}\"\n",
            "templates/short.yaml": "sms: {channel: aliyun, api_template_id: SMS_2, content: \"验证码{code}\"}\n",
        ])
        #expect(WorkspaceCheck.run(root: workspace.url, environment: [:]) == [
            .warning("sms content of 'long' is 71 characters with its signature before any parameter; it is sent as 2 parts and billed as such",
                     at: SourceLocation(file: "templates/long.yaml", line: 4, column: 12)),
        ])
    }

}

/// Provider transports are configured by the channel module's settings readers, not by Core.
@Suite(.timeLimit(.minutes(1))) struct ProviderSettingsCheckTests {
    @Test func aProviderTransportNoSettingsReaderKnowsIsAnErrorAtItsTransport() throws {
        // Core reads no provider's settings: HeraldChannels' ChannelSupport.builtIn does.
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "mail:\n  accounts:\n    exmail: {transport: smtp, from: a@example.com, host: smtp.example.com}\n",
            "templates/t.yaml": "mail: {account: exmail, title: t, text: t}\n",
        ])
        #expect(WorkspaceCheck.run(root: workspace.url, environment: [:]) == [
            .error("mail account 'exmail' uses transport smtp, which this program cannot configure (no settings reader for it)", at: SourceLocation(file: "herald.yaml", line: 3, column: 25)),
            .error("unknown key 'host' in mail account 'exmail'; expected one of transport, from, reply_to, rate, max_size, retry, bounce_domain, daily_quota", at: SourceLocation(file: "herald.yaml", line: 3, column: 52)),
        ])
    }

    @Test func aRobotRateAboveThePlatformsLimitIsAWarning() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "dingtalk:\n  apps:\n    ops: {transport: file, kind: robot, rate: 30/min}\n    fine: {transport: file, kind: robot, rate: 20/min}\n",
            "templates/t.yaml": "dingtalk: {robot: ops, type: text, content: hi}\n",
        ])
        #expect(WorkspaceCheck.run(root: workspace.url, environment: [:]) == [
            .warning("rate 30/min of dingtalk robot 'ops' is over the platform's 20/min for a robot; the excess is refused and waits in the spool",
                     at: SourceLocation(file: "herald.yaml", line: 3, column: 47)),
        ])
    }
}
