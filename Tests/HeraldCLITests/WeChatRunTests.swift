import Foundation
import Testing
import HeraldTestSupport

/// `herald run` sending WeChat template messages to a local server speaking the WeChat API.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct WeChatRunLocalWireFormatTests {
    @Test func twoRunsShareOneAccessToken() throws {
        let server = try WeChatTestServer()
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": """
                wechat:
                  apps:
                    mp:
                      transport: wechat
                      kind: official_account
                      app_id: wx0000000000000001
                      app_secret: ${TEST_WECHAT_SECRET}
                      endpoint: \(server.endpoint)

                """,
            "templates/shipped.yaml": "wechat_mp: {app: mp, template_id: TPL, url: \"https://x.example/{id}\", data: {first: 已发货, keyword1: \"{id}\"}}\n",
            "recipients/inbox/shipped.1.csv": "openid,id\noUser1,A1\no-refused,A2\n",
        ])
        let environment = ["TEST_WECHAT_SECRET": "wechat-secret"]
        let first = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: environment)
        #expect(first.stdout.contains("wechat_mp     1       1      2"), "\(first.stdout)\(first.stderr)")
        try workspace.write("recipients/inbox/shipped.2.csv", "openid,id\noUser3,A3\n")
        let second = try runHerald(["run", "--settle", "0s"], in: workspace.url, environment: environment)
        #expect(second.stdout.contains("wechat_mp     1      1"), "\(second.stdout)\(second.stderr)")
        let requests = try server.requests()
        #expect(requests.filter { $0.path == "/cgi-bin/stable_token" }.count == 1, "the token is cached in herald.sqlite across processes")
        #expect(requests.filter { $0.path == "/cgi-bin/message/template/send" }.count == 3)
        let text = try workspace.logText()
        #expect(text.contains(#""error":{"stage":"send","code":"43101","message":"user refuse to accept the msg"}"#))
    }
}
