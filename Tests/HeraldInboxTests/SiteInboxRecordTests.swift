import Foundation
import Testing
import HeraldCore
import HeraldInbox

@Suite(.timeLimit(.minutes(1))) struct SiteInboxRecordTests {
    @Test func siteMessagesAreStoredWithTheirLedgerEntriesAndOnlyWhenSent() async throws {
        let template = Template(code: "hello", name: "问候", base: VariantSet(site: SiteVariant(nickname: TemplateText("助手"), type: "notification",
                                                                                                content: TemplateText("你好 {name}"))))
        let catalog = TemplateCatalog([template])
        var transports = TransportSet()
        transports.set(InboxTransport(), channel: .site, account: "site")
        let inbox = MemorySiteMessageStore(), log = MemoryEventLog()
        let ledger = MemoryLedger(siteMessages: inbox)
        let renderer = TemplateRenderer()
        let pipeline = Pipeline([
            .load(from: catalog, ledger: ledger), .validate(using: renderer), .render(with: renderer), .rateLimit(),
            .send(through: transports),
            .record(to: ledger, log: log, spool: nil, configuration: Configuration(),
                    clock: { Date(timeIntervalSince1970: 0) }),
        ])
        let rows = [RecipientRow(row: 1, template: "hello", recipient: Recipient(userID: "7", tenantID: "3"), parameters: ["name": "李雷"]),
                    RecipientRow(row: 2, template: "hello", recipient: Recipient(userID: "8"), parameters: [:])]
        let summary = try await BatchRunner(pipeline: pipeline, catalog: catalog).run(rows: rows, batch: BatchContext(id: "b", file: "f"))
        #expect(summary.counts == [.channel(.site): [.status(.sent): 1, .status(.invalid): 1]])
        #expect(inbox.messages.map { [$0.userID, $0.tenantID, $0.content, $0.nickname ?? ""] } == [["7", "3", "你好 李雷", "助手"]])
        #expect(inbox.messages.first?.messageID == ledger.all.values.first { $0.status == .sent }?.id)
    }
}
