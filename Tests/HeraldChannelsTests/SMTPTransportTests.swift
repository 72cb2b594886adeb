import Foundation
import Testing
import HeraldChannels
import HeraldCore
import HeraldTestSupport

/// SMTPTransport against a real SMTP server (aiosmtpd) on 127.0.0.1, over libcurl.
@Suite(.serialized, .timeLimit(.minutes(1))) struct SMTPTransportRealServerTests {
    static let timeZone = TimeZone(identifier: "Asia/Shanghai")!

    func transport(port: Int, security: SMTPSecurity = .none, connections: Int = 1, username: String? = nil,
                   password: String? = nil, caFile: String? = nil, root: URL = FileManager.default.temporaryDirectory) -> SMTPTransport {
        let account = MailAccount(id: "default", transport: .smtp, from: "noreply@shop.example.com")
        let settings = SMTPSettings(host: "127.0.0.1", port: port, security: security, username: username,
                                    password: password.map { Secret(variable: "TEST_SMTP_PASSWORD", value: $0) },
                                    timeout: .seconds(10), caFile: caFile, connections: connections)
        return SMTPTransport(account: account, settings: settings, root: root, timeZone: Self.timeZone)
    }

    func envelope(_ row: Int, to address: String = "li.lei@example.com", subject: String = "【云商城】您的订单 A1001 已发货 🚚",
                  attachments: [String] = [], unsubscribe: String? = nil, extras: MailExtras = MailExtras()) -> Envelope {
        let mail = RenderedMail(account: "default", nickname: "云商城客服", subject: subject,
                                html: "<p>李雷，您好：订单 <b>A\(row)</b> 已发货。</p>", text: "李雷，您好：\n订单 A\(row) 已发货。",
                                attachments: attachments, unsubscribe: unsubscribe)
        let batch = BatchContext(id: "smtp-test", file: "t.csv")
        return Envelope(id: batch.messageID(row: row, channel: "mail"), batch: batch, row: row, channel: .mail, account: "default",
                        address: address, recipient: Recipient(email: address),
                        message: RenderedMessage(template: "order_shipped", category: .transactional, content: .mail(mail)),
                        mail: extras)
    }

    @Test func aBatchOfChineseMailsArrivesIntactOverOneConnection() async throws {
        let server = try SMTPTestServer()
        let transport = transport(port: server.port, connections: 1)
        for row in 1...12 {
            let outcome = await transport.send(envelope(row))
            #expect(outcome.kind == .sent, "\(outcome)")
            #expect(outcome.providerID == "<\(envelope(row).id.value)@shop.example.com>")
        }
        #expect(server.stats.connections == 1)
        let received = try server.received()
        #expect(received.count == 12)
        for (index, message) in received.enumerated() {
            let parsed = try parseWithPython(message.data)
            #expect(parsed.subject == "【云商城】您的订单 A1001 已发货 🚚")
            #expect(parsed.fromName == "云商城客服")
            #expect(parsed.fromAddress == "noreply@shop.example.com")
            #expect(parsed.text?.replacingOccurrences(of: "\r\n", with: "\n") == "李雷，您好：\n订单 A\(index + 1) 已发货。")
            #expect(parsed.html == "<p>李雷，您好：订单 <b>A\(index + 1)</b> 已发货。</p>")
            #expect(parsed.messageID == "<\(envelope(index + 1).id.value)@shop.example.com>")
            #expect(parsed.defects.isEmpty)
            #expect(message.mailFrom == "noreply@shop.example.com")
            #expect(message.recipients == ["li.lei@example.com"])
        }
    }

    @Test func aPoolCarriesABatchOnAtMostItsConnections() async throws {
        let server = try SMTPTestServer()
        let transport = transport(port: server.port, connections: 3)
        let outcomes = await withTaskGroup(of: DeliveryOutcome.self) { group in
            for row in 1...30 { group.addTask { await transport.send(envelope(row)) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.allSatisfy { $0.kind == .sent })
        #expect(server.stats.messages == 30)
        #expect((1...3).contains(server.stats.connections))
    }

    @Test func ccIsInTheHeaderAndBccOnlyOnTheEnvelope() async throws {
        let server = try SMTPTestServer()
        let extras = MailExtras(cc: ["boss@example.com"], bcc: ["audit@example.com"])
        let outcome = await transport(port: server.port).send(envelope(1, extras: extras))
        #expect(outcome.kind == .sent)
        let message = try #require(try server.received().first)
        #expect(message.recipients == ["li.lei@example.com", "boss@example.com", "audit@example.com"])
        let parsed = try parseWithPython(message.data)
        #expect(parsed.cc == "boss@example.com")
        #expect(parsed.bcc == nil)
        #expect(!String(decoding: message.data, as: UTF8.self).contains("audit@example.com"))
    }

    @Test func attachmentsKeepTheirChineseNamesAndTheUnsubscribeHeadersAreSet() async throws {
        let workspace = try TemporaryWorkspace()
        let invoice = Data((0..<3000).map { UInt8($0 % 251) })
        try workspace.write("files/电子发票-2026年11月（订单A1001）.pdf", invoice)
        try workspace.write("files/notes.txt", "纯文本附件\n")
        let server = try SMTPTestServer()
        let outcome = await transport(port: server.port, root: workspace.url).send(envelope(
            1, attachments: ["files/电子发票-2026年11月（订单A1001）.pdf", "files/notes.txt"],
            unsubscribe: "https://shop.example.com/unsubscribe?u=10001"))
        #expect(outcome.kind == .sent, "\(outcome)")
        let parsed = try parseWithPython(try #require(try server.received().first).data)
        #expect(parsed.attachments.map(\.filename) == ["电子发票-2026年11月（订单A1001）.pdf", "notes.txt"])
        #expect(parsed.attachments.map(\.contentType) == ["application/pdf", "text/plain"])
        #expect(parsed.attachments.first?.sha256 == sha256Hex(invoice))
        #expect(parsed.text?.replacingOccurrences(of: "\r\n", with: "\n") == "李雷，您好：\n订单 A1 已发货。")
        #expect(parsed.listUnsubscribe == "<https://shop.example.com/unsubscribe?u=10001>")
        #expect(parsed.listUnsubscribePost == "List-Unsubscribe=One-Click")
        #expect(parsed.defects.isEmpty)
    }

    @Test func a451ReplyIsTransientAndA550ReplyPermanentWithTheServersWords() async throws {
        let busy = try SMTPTestServer(rcptReply: "451 4.3.0 Mailbox busy, try again later")
        var deferred = await transport(port: busy.port).send(envelope(1))
        #expect(deferred.latency != nil)
        deferred.latency = nil
        #expect(deferred == .transient(code: "451", "451 4.3.0 Mailbox busy, try again later"))

        let unknown = try SMTPTestServer(dataReply: "550 5.1.1 <li.lei@example.com>: Recipient address rejected: User unknown")
        var failed = await transport(port: unknown.port).send(envelope(1))
        failed.latency = nil
        var bounce = DeliveryOutcome.permanent(code: "550", "550 5.1.1 <li.lei@example.com>: Recipient address rejected: User unknown")
        bounce.isHardBounce = true
        #expect(failed == bounce, "the transport says the mailbox does not exist")

        let refused = try SMTPTestServer(dataReply: "550 5.7.1 Message rejected as spam")
        var policy = await transport(port: refused.port).send(envelope(1))
        policy.latency = nil
        #expect(policy == .permanent(code: "550", "550 5.7.1 Message rejected as spam"), "a policy refusal is no bounce")
    }

    @Test func aRefusedPortIsTransient() async throws {
        // A port bound but not listening refuses connections, and no other test can take it meanwhile.
        let reserved = try ReservedPort()
        let outcome = await transport(port: reserved.port).send(envelope(1))
        withExtendedLifetime(reserved) {}
        #expect(outcome.kind == .transient)
        #expect(outcome.code == "curl_7")
    }

    @Test func authWithUsernameAndPassword() async throws {
        let server = try SMTPTestServer(auth: "noreply:s3cret-密码")
        let accepted = await transport(port: server.port, username: "noreply", password: "s3cret-密码").send(envelope(1))
        #expect(accepted.kind == .sent, "\(accepted)")
        let denied = await transport(port: server.port, username: "noreply", password: "wrong").send(envelope(2))
        #expect(denied.kind == .permanent)
        #expect(denied.code == "535")
        #expect(server.stats.messages == 1)
    }

    @Test func starttlsWithTheCAFileWorksAndWithoutItIsRefused() async throws {
        let folder = try TemporaryWorkspace()
        let certificate = try SMTPTestServer.makeCertificate(in: folder.url)
        let server = try SMTPTestServer(starttls: certificate)
        let trusted = await transport(port: server.port, security: .starttls, caFile: certificate.certificate.path).send(envelope(1))
        #expect(trusted.kind == .sent, "\(trusted)")
        let untrusted = await transport(port: server.port, security: .starttls).send(envelope(2))
        #expect(untrusted.kind == .permanent, "\(untrusted)")
        #expect(untrusted.code == "curl_60")
        #expect(server.stats.messages == 1)
    }

    @Test func implicitTLS() async throws {
        let folder = try TemporaryWorkspace()
        let certificate = try SMTPTestServer.makeCertificate(in: folder.url)
        let server = try SMTPTestServer(implicitTLS: certificate)
        let outcome = await transport(port: server.port, security: .ssl, caFile: certificate.certificate.path).send(envelope(1))
        #expect(outcome.kind == .sent, "\(outcome)")
    }
}

func sha256Hex(_ data: Data) -> String {
    let result = try? runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["sha256sum"], input: data)
    return String(result?.stdout.prefix(64) ?? "")
}

/// A loopback TCP port held by a socket that never listens: connecting to it is refused.
final class ReservedPort {
    let port: Int
    private let descriptor: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        descriptor = fd
        guard bound == 0, named == 0 else { throw PythonError(message: "could not reserve a port") }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        close(descriptor)
    }
}
