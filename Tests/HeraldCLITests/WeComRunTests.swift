import Foundation
import Testing
import HeraldTestSupport

/// `herald run` sending 企业微信 app and robot messages to a local server speaking WeCom's API.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct WeComRunTests {
    static func configuration(_ server: WeComTestServer) -> String {
        """
        wecom:
          apps:
            hr:
              transport: wecom
              corp_id: ww0000000000000001
              agent_id: 1000002
              secret: ${TEST_WECOM_SECRET}
              endpoint: \(server.endpoint)
            oncall:
              transport: wecom_robot
              key: ${TEST_WECOM_ROBOT_KEY}
              endpoint: \(server.endpoint)

        """
    }

    static let templates = [
        "templates/approved.yaml": """
            name: 审批通过
            wecom:
              app: hr
              type: textcard
              title: "{form} 已通过"
              description: "{name}，你提交的{form}已审批通过。"
              url: "https://oa.example.com/f/{id}"
            """,
        "templates/alert.yaml": """
            name: 告警
            category: system
            wecom:
              robot: oncall
              type: markdown
              content: "**{service}** 异常：{detail}"
            """,
    ]

    @Test func appAndRobotMessagesGoOutAndTheTokenIsFetchedOncePerApp() throws {
        let server = try WeComTestServer()
        var files = Self.templates
        files["herald.yaml"] = Self.configuration(server)
        files["recipients/inbox/approved.1.csv"] = "wecom_user,name,form,id\nzhangsan,张三,报销单,A1\nw-unknown,李四,请假单,A2\nlisi|wangwu,王五,报销单,A3\n"
        files["recipients/inbox/alert.1.csv"] = "service,detail\n订单服务,\"[点我](https://evil.example.com)\"\n"
        let workspace = try TemporaryWorkspace(files: files)
        let environment = ["TEST_WECOM_SECRET": "wecom-secret", "TEST_WECOM_ROBOT_KEY": "robot-key-0001"]
        let check = try runHerald(["check"], in: workspace.url, environment: environment)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let first = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: environment)
        #expect(first.stdout.contains("wecom       2       1        1      4"), "\(first.stdout)\(first.stderr)")
        try workspace.write("recipients/inbox/approved.2.csv", "wecom_user,name,form,id\nlisi,李四,报销单,A4\n")
        let second = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: environment)
        #expect(second.stdout.contains("wecom       1      1"), "\(second.stdout)\(second.stderr)")
        let requests = try server.requests()
        #expect(try server.tokenFetches() == 1, "the token is kept in herald.sqlite across runs")
        #expect(requests.allSatisfy { $0.problems.isEmpty }, "\(requests.map(\.problems))")
        let robot = try #require(requests.first { $0.path == "/cgi-bin/webhook/send" })
        #expect(robot.body.contains(#"［点我］（https:\/\/evil.example.com）"#), "\(robot.body)")
        let log = try workspace.logText()
        #expect(log.contains(#""code":"81013""#))
        #expect(log.contains(#""code":"invalid_wecom_user""#), "a list of ids is refused, not sent to several people")
        #expect(log.contains(#""recipient":"z***n""#), "member ids are masked like other addresses")
    }

    @Test func aRefusedSecretStopsTheAppAndItsMessagesWaitInTheSpool() throws {
        let server = try WeComTestServer()
        var files = Self.templates
        files["herald.yaml"] = Self.configuration(server)
        files["recipients/inbox/approved.1.csv"] = "wecom_user,name,form,id\nzhangsan,张三,报销单,A1\nlisi,李四,请假单,A2\nwangwu,王五,报销单,A3\n"
        let workspace = try TemporaryWorkspace(files: files)
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url,
                                environment: ["TEST_WECOM_SECRET": "wrong-secret", "TEST_WECOM_ROBOT_KEY": "robot-key-0001"])
        #expect(run.stdout.contains("wecom           3      3"), "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("paused wecom/hr: wecom 'wecom/hr' refused the account (40001"), "\(run.stdout)")
        #expect(try server.tokenFetches() == 1, "one refused fetch stops the app: no fetch per message")
        let spool = try runHerald(["spool", "list"], in: workspace.url, environment: ["TEST_WECOM_SECRET": "x", "TEST_WECOM_ROBOT_KEY": "y"])
        #expect(spool.stdout.components(separatedBy: "wecom/hr").count - 1 == 3, "\(spool.stdout)")
    }
}
