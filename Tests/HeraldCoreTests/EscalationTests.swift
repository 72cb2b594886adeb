import Foundation
import Testing
@testable import HeraldCore
import HeraldTestSupport

/// `escalate:`: held-back variants, sent only when the first messages were ignored; injected clock.
@Suite(.timeLimit(.minutes(1))) struct EscalationTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    struct Fixture {
        let run: RunContext
        let transport: MemoryTransport
        let log: MemoryEventLog
        let ledger: MemoryLedger
        let site: MemorySiteMessageStore
        let clock: ManualClock
    }

    func fixture(_ template: String, preferences: String? = nil) throws -> Fixture {
        var files = [
            "herald.yaml": "timezone: Asia/Shanghai\ncaps: {sms: [none]}\nsms:\n  channels:\n    aliyun: {transport: file, signature: 云商城}\n"
                + "mail:\n  accounts:\n    default: {transport: file, from: noreply@shop.example.com}\n"
                + "wecom:\n  apps:\n    hr: {transport: file}\n",
            "templates/alert.yaml": template,
        ]
        if let preferences { files["recipients/preferences.csv"] = preferences }
        let workspace = try TemporaryWorkspace(files: files)
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        let clock = ManualClock(start: Self.start)
        // 站内信 to users 1 and 2 are stored in the inbox, as the inbox transport does.
        var stored = DeliveryOutcome.sent(providerID: "inbox")
        stored.storesInInbox = true
        let transport = MemoryTransport(outcomes: ["1": stored, "2": stored])
        let log = MemoryEventLog()
        let site = MemorySiteMessageStore()
        let ledger = MemoryLedger(siteMessages: site)
        let (prefs, _) = Preferences.load(root: workspace.url)
        let run = RunContext(workspace: opened, transports: TransportSet.all(transport, configuration: opened.configuration),
                             ledger: ledger, log: log, clock: clock, counters: MemoryRecipientCounters(), preferences: prefs,
                             spool: MemorySpool(), siteMessages: site)
        return Fixture(run: run, transport: transport, log: log, ledger: ledger, site: site, clock: clock)
    }

    static let siteThenSMS = """
        site: {content: "订单 {orderId} 待支付"}
        sms: {channel: aliyun, api_template_id: SMS_9, content: "订单{orderId}待支付"}
        escalate:
          - {after: 30m, unless: read, to: [sms]}

        """

    /// 站内信 first; 企业微信 to the member when it stays unread for 10 minutes.
    @Test func anUnread站内信EscalatesTo企业微信() async throws {
        let f = try fixture("""
            site: {content: "审批 {orderId} 待处理"}
            wecom: {app: hr, type: text, content: "审批 {orderId} 待处理，请尽快查看"}
            escalate:
              - {after: 10m, unless: read, to: [wecom]}

            """)
        let rows = [1, 2].map { user in
            RecipientRow(row: user, template: "alert", recipient: Recipient(wecomUser: "staff\(user)", userID: "\(user)"), parameters: ["orderId": "A\(user)"])
        }
        let first = try await OneOffSend(f.run).send(rows, batchID: "b")
        #expect(first.counts == [.channel(.site): [.status(.sent): 2], .channel(.wecom): [.status(.scheduled): 2]])
        f.site.markRead(MessageID(batch: "b", row: 2, channel: "site"))
        f.clock.advance(by: .seconds(600))
        let later = try await SpoolDrain(f.run).drain()
        #expect(later.counts == [.channel(.wecom): [.status(.sent): 1, .status(.skipped): 1]])
        #expect(f.transport.sent.filter { $0.channel == .wecom }.map(\.address) == ["staff1"], "only the unread one")
    }

    func row(_ user: Int) -> RecipientRow {
        RecipientRow(row: user, template: "alert", recipient: Recipient(userID: "\(user)", mobile: "1380013800\(user)"),
                     parameters: ["orderId": "A\(user)"])
    }

    @Test func anUnread站内信EscalatesAfterItsTimeAndAReadOneDoesNot() async throws {
        let f = try fixture(Self.siteThenSMS)
        let first = try await OneOffSend(f.run).send([row(1), row(2)], batchID: "b")
        #expect(first.counts == [.channel(.site): [.status(.sent): 2], .channel(.sms): [.status(.scheduled): 2]], "the sms variant is held back, not sent with the first")
        #expect(f.transport.sent.allSatisfy { $0.channel == .site })
        let held = f.log.events.filter { $0.status == .scheduled }
        #expect(held.map(\.escalatedFrom) == [MessageID(batch: "b", row: 1, channel: "site").value,
                                              MessageID(batch: "b", row: 2, channel: "site").value])
        #expect(held.first?.nextAttempt == Self.start.addingTimeInterval(1800))

        f.site.markRead(MessageID(batch: "b", row: 1, channel: "site"))
        f.clock.advance(by: .seconds(1799))
        #expect(try await SpoolDrain(f.run).drain().counts.isEmpty, "not before its time")
        f.clock.advance(by: .seconds(1))
        let later = try await SpoolDrain(f.run).drain()
        #expect(later.counts == [.channel(.sms): [.status(.sent): 1, .status(.skipped): 1]])
        #expect(f.transport.sent.filter { $0.channel == .sms }.map(\.address) == ["+8613800138002"], "only the unread one")
        let skipped = try #require(f.log.events.last { $0.status == .skipped })
        #expect(skipped.error?.code == "escalation_not_needed")
        #expect(skipped.error?.reason == "message \(MessageID(batch: "b", row: 1, channel: "site").value) was read in time; the sms escalation is not needed")
        #expect(f.log.events.last { $0.status == .sent }?.escalatedFrom == MessageID(batch: "b", row: 2, channel: "site").value)
        #expect(try await f.run.spool?.entries().isEmpty == true)
    }

    @Test func anSMSWithoutADeliveredReceiptFallsBackToMail() async throws {
        let f = try fixture("""
            sms: {channel: aliyun, api_template_id: SMS_9, content: "验证{orderId}"}
            mail: {account: default, title: "订单 {orderId}", text: "订单 {orderId} 待支付"}
            escalate:
              - {after: 10m, unless: delivered, to: [mail]}

            """)
        let rows = (1...2).map { n in
            RecipientRow(row: n, template: "alert", recipient: Recipient(email: "u\(n)@example.com", mobile: "1380013800\(n)"),
                         parameters: ["orderId": "A\(n)"])
        }
        _ = try await OneOffSend(f.run).send(rows, batchID: "b")
        // Row 1's SMS gets a delivered receipt; row 2's never does.
        try await f.ledger.record([LedgerEntry(id: MessageID(batch: "b", row: 1, channel: "sms"), batch: "b", row: 1, channel: .sms,
                                         template: "alert", status: .delivered, updatedAt: f.clock.now())])
        f.clock.advance(by: .seconds(600))
        #expect(try await SpoolDrain(f.run).drain().counts == [.channel(.mail): [.status(.sent): 1, .status(.skipped): 1]])
        #expect(f.transport.sent.filter { $0.channel == .mail }.map(\.address) == ["u2@example.com"])
    }

    @Test func anEscalationRespectsPreferences() async throws {
        let f = try fixture(Self.siteThenSMS, preferences: "user_id,address,channel,category,opt_out\n2,,sms,transactional,true\n")
        _ = try await OneOffSend(f.run).send([row(2)], batchID: "b")
        f.clock.advance(by: .seconds(1800))
        #expect(try await SpoolDrain(f.run).drain().counts == [.channel(.sms): [.status(.suppressed): 1]], "opted out of SMS: the escalation is suppressed, not sent")
    }

    @Test func aRowWithoutAFirstMessageSendsTheHeldVariantAtOnce() async throws {
        let f = try fixture(Self.siteThenSMS)
        let only = RecipientRow(row: 1, template: "alert", recipient: Recipient(mobile: "13800138001"), parameters: ["orderId": "A1"])
        #expect(try await OneOffSend(f.run).send([only], batchID: "b").counts == [.channel(.sms): [.status(.sent): 1]])
    }

    @Test func escalateMistakesArePointedAt() throws {
        func problems(_ yaml: String) throws -> [String] {
            let workspace = try TemporaryWorkspace(files: ["templates/alert.yaml": yaml])
            return TemplateCatalog.load(from: workspace.url).1.map(\.description)
        }
        let base = "site: {content: \"x\"}\nsms: {channel: aliyun, api_template_id: SMS_1, content: \"x\"}\n"
        #expect(try problems(base + "escalate:\n  - {after: 30m, unless: read, to: [mail]}\n").contains {
            $0.hasPrefix("templates/alert.yaml:4:") && $0.contains("escalate to mail, but the template has no mail variant") })
        #expect(try problems(base + "escalate:\n  - {after: soon, unless: read, to: [sms]}\n").contains { $0.contains("'after' in an escalate step is 'soon'") })
        #expect(try problems(base + "escalate:\n  - {after: 1m, unless: opened, to: [sms]}\n").contains { $0.contains("expected one of read, delivered, sent") })
        #expect(try problems(base + "escalate:\n  - {after: 1m, unless: read, to: [site, sms]}\n").contains { $0.contains("every variant is held back") })
        #expect(try problems(base + "escalate:\n  - {after: 1m, unless: read, to: [site]}\n").contains { $0.contains("unless: read needs a site variant") })
        #expect(try problems(base + "escalate:\n  - {after: 1m, unless: read, to: [sms]}\n").isEmpty)
    }
}
