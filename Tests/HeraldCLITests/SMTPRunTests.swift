import Foundation
import Testing
import HeraldTestSupport

/// `herald run` sending through a real SMTP server (aiosmtpd) on 127.0.0.1.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3))) struct SMTPRunRealServerTests {
    func workspace(port: Int, batch: String) throws -> TemporaryWorkspace {
        try TemporaryWorkspace(files: [
            "herald.yaml": """
                mail:
                  accounts:
                    relay: {transport: smtp, host: 127.0.0.1, port: \(port), security: none, from: noreply@shop.example.com, connections: 2, timeout: 10s}

                """,
            "templates/welcome.yaml": """
                name: 欢迎注册
                mail:
                  account: relay
                  nickname: 云商城
                  title: "欢迎加入云商城，{name}！"
                  text: "{name}，欢迎您！"
                  unsubscribe: "https://shop.example.com/u/{name}"

                """,
            "recipients/attachments/指南.txt": "新手指南\n",
            "recipients/inbox/welcome.csv": batch,
        ])
    }

    @Test func aBatchGoesOutThroughSMTPWithCopiesAndAttachments() throws {
        let server = try SMTPTestServer()
        let workspace = try workspace(port: server.port, batch: """
            email,name,cc,bcc,attachments
            li@example.com,李雷,,,recipients/attachments/指南.txt
            han@example.com,韩梅梅,boss@example.com,audit@example.com,
            wang@example.com,王小明,,,../../etc/passwd
            zhao@example.com,赵六,not-an-address,,

            """)
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.stdout == """
            welcome.csv: done → recipients/processed/

            channel  sent  invalid  total
            mail        2        2      4
            total       2        2      4

            """)
        #expect(result.status == 1)
        // Two connections deliver in parallel: arrival order is not row order.
        let received = try server.received().sorted { ($0.recipients.first ?? "") > ($1.recipients.first ?? "") }
        #expect(received.map(\.recipients) == [["li@example.com"], ["han@example.com", "boss@example.com", "audit@example.com"]])
        let first = try parseWithPython(received[0].data)
        #expect(first.subject == "欢迎加入云商城，李雷！")
        #expect(first.attachments.map(\.filename) == ["指南.txt"])
        #expect(first.listUnsubscribe == "<https://shop.example.com/u/李雷>")
        let second = try parseWithPython(received[1].data)
        #expect(second.cc == "boss@example.com")
        #expect(second.bcc == nil)

        let log = try workspace.logText()
        #expect(log.contains("\"transport\":\"smtp\""))
        #expect(log.contains("\"provider_id\":\"\(first.messageID ?? "-")\""))
        #expect(log.contains("attachment '../../etc/passwd' climbs out with '..'"))
        #expect(log.contains("cc '***' is not a valid address"), "addresses in error messages are masked like the recipient field")
    }

    @Test func withABounceDomainTheEnvelopeSenderNamesTheMessage() throws {
        let server = try SMTPTestServer()
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": """
                mail:
                  accounts:
                    relay: {transport: smtp, host: 127.0.0.1, port: \(server.port), security: none, from: noreply@shop.example.com, bounce_domain: bounces.example.com}
                    local: {transport: file, from: noreply@shop.example.com, bounce_domain: bounces.example.com}

                """,
            "templates/welcome.yaml": "mail: {account: relay, title: \"欢迎 {name}\", text: \"{name}，欢迎您！\"}\n",
            "templates/receipt.yaml": "mail: {account: local, title: \"收据 {name}\", text: \"{name}\"}\n",
            "recipients/inbox/welcome.csv": "email,name\nli@example.com,李雷\n",
            "recipients/inbox/receipt.csv": "email,name\nhan@example.com,韩梅梅\n",
        ])
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let events = try workspace.logEvents()
        let smtpID = try #require(events.first { $0["file"] as? String == "welcome.csv" }?["message_id"] as? String)
        #expect(try server.received().map(\.mailFrom) == ["b+\(smtpID)@bounces.example.com"], "VERP in MAIL FROM")
        let fileID = try #require(events.first { $0["file"] as? String == "receipt.csv" }?["message_id"] as? String)
        let eml = try workspace.read("outbox/sent/mail/receipt/\(fileID).eml")
        #expect(eml.hasPrefix("Return-Path: <b+\(fileID)@bounces.example.com>\r\n"), "the file transport's .eml says the same")
        #expect(try parseWithPython(Data(eml.utf8)).fromAddress == "noreply@shop.example.com", "the From header is unchanged")
    }

    @Test func aBusyServerDefersAndARejectingOneFails() throws {
        let busy = try SMTPTestServer(rcptReply: "451 4.7.1 Greylisted, please try again later")
        let greylisted = try workspace(port: busy.port, batch: "email,name\nli@example.com,李雷\n")
        let deferred = try runHerald(["run", "--settle", "0s"], in: greylisted.url)
        #expect(deferred.stdout.contains("mail            1      1"))
        #expect(deferred.stdout.contains("deferred"))
        #expect(deferred.status == 0, "deferred is not a failure: the spool retries it")

        let rejecting = try SMTPTestServer(rcptReply: "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown")
        let ws = try workspace(port: rejecting.port, batch: "email,name\nnobody@example.com,无名\n")
        let failed = try runHerald(["run", "--settle", "0s"], in: ws.url)
        #expect(failed.stdout.contains("failed"))
        #expect(failed.status == 1)
        let text = try ws.logText()
        #expect(text.contains("\"error\":{\"stage\":\"send\",\"code\":\"550\",\"message\":\"550 5.1.1 <n***@example.com>: Recipient address rejected: User unknown\"}"),
                "the provider's reply is masked like the recipient field")
        #expect(try ws.read("recipients/suppressions.csv").hasPrefix("address,reason,since,tenant_id\nnobody@example.com,bounce,"),
                "a hard bounce joins the suppression list")
        let again = try runHerald(["send", "--template", "welcome", "--to", "mail:nobody@example.com", "--param", "name=x"], in: ws.url)
        #expect(again.stdout.contains("suppressed"), "\(again.stdout)")
        #expect(rejecting.stats.connections == 1, "the suppressed address is not tried again")
    }
}
