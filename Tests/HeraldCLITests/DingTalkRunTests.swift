import Foundation
import Testing
import HeraldTestSupport

/// `herald run` sending 钉钉 work notifications and signed robot messages to a local DingTalk.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct DingTalkRunTests {
    @Test func workNotificationsAndSignedRobotMessagesGoOut() throws {
        let server = try DingTalkTestServer()
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": """
                dingtalk:
                  apps:
                    oa:
                      transport: dingtalk
                      app_key: dingappkey0001
                      app_secret: ${TEST_DINGTALK_SECRET}
                      agent_id: 2890001
                      endpoint: \(server.endpoint)
                    ops:
                      transport: dingtalk_robot
                      access_token: ${TEST_DINGTALK_ROBOT_TOKEN}
                      secret: ${TEST_DINGTALK_ROBOT_SECRET}
                      endpoint: \(server.endpoint)

                """,
            "templates/leave.yaml": "dingtalk: {app: oa, type: markdown, title: 请假已批准, content: \"### 请假已批准\\n{name}：{days} 天\"}\n",
            "templates/deploy.yaml": "category: system\ndingtalk: {robot: ops, type: text, content: \"{service} 已发布\"}\n",
            "recipients/inbox/leave.1.csv": "dingtalk_user,name,days\nuser123,张三,2\nd-qpm,李四,1\n\"a,b\",王五,3\n",
            "recipients/inbox/deploy.1.csv": "service\n订单服务\n",
        ])
        let environment = ["TEST_DINGTALK_SECRET": "dingtalk-secret", "TEST_DINGTALK_ROBOT_TOKEN": "robot-token-0001",
                           "TEST_DINGTALK_ROBOT_SECRET": "SEC0123456789abcdef"]
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: environment)
        #expect(run.stdout.contains("dingtalk     2         1        1      4"), "\(run.stdout)\(run.stderr)")
        let requests = try server.requests()
        #expect(requests.allSatisfy { $0.problems.isEmpty }, "\(requests.map(\.problems))")
        #expect(try server.tokenFetches() == 1)
        #expect(requests.contains { $0.path == "/robot/send" && $0.query.contains("sign=") })
        let log = try workspace.logText()
        #expect(log.contains(#""code":"143103""#), "the QPM limit defers")
        #expect(log.contains(#""code":"invalid_dingtalk_user""#), "a comma list is refused, not sent to two people")
    }
}
