import Foundation
import Testing
import HeraldTestSupport

/// `herald run` sending 飞书 app bot messages and signed custom-bot messages to a local Feishu.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct FeishuRunTests {
    @Test func appAndBotMessagesGoOutWithOneTokenAcrossRuns() throws {
        let server = try FeishuTestServer()
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": """
                feishu:
                  apps:
                    bot:
                      transport: feishu
                      app_id: cli_a0000000000001
                      app_secret: ${TEST_FEISHU_SECRET}
                      endpoint: \(server.endpoint)
                    ops:
                      transport: feishu_robot
                      hook: ${TEST_FEISHU_HOOK}
                      secret: ${TEST_FEISHU_BOT_SECRET}
                      endpoint: \(server.endpoint)

                """,
            "templates/leave.yaml": "feishu: {app: bot, type: markdown, title: 请假已批准, content: \"{name}：{days} 天\"}\n",
            "templates/deploy.yaml": "category: system\nfeishu: {robot: ops, type: text, content: \"{service} 已发布\"}\n",
            "recipients/inbox/leave.1.csv": "feishu_user,name,days\nou_a1,张三,2\nf-limit,李四,1\nf-gone,王五,3\n",
            "recipients/inbox/deploy.1.csv": "service\n订单服务\n",
        ])
        let environment = ["TEST_FEISHU_SECRET": "feishu-secret", "TEST_FEISHU_HOOK": "hook-0001", "TEST_FEISHU_BOT_SECRET": "demo"]
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: environment)
        #expect(run.stdout.contains("feishu      2         1       1      4"), "\(run.stdout)\(run.stderr)")
        try workspace.write("recipients/inbox/leave.2.csv", "feishu_user,name,days\nou_a2,赵六,1\n")
        let second = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: environment)
        #expect(second.stdout.contains("feishu      1      1"), "\(second.stdout)\(second.stderr)")
        let requests = try server.requests()
        #expect(requests.allSatisfy { $0.problems.isEmpty }, "\(requests.map(\.problems))")
        #expect(try server.tokenFetches() == 1, "the tenant token is kept in herald.sqlite across runs")
        let log = try workspace.logText()
        #expect(log.contains(#""code":"99991400""#) && log.contains(#""code":"230013""#))
    }
}
