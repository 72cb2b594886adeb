import Foundation
import Testing
@testable import HeraldCore
import HeraldTestSupport

/// A verification file that arrives while a big batch runs is sent between the batch's chunks,
/// not after its last row.
@Suite(.timeLimit(.minutes(1))) struct UrgentFileTests {
    @Test func aVerificationCodeJumpsAheadOfARunningCampaign() async throws {
        let rows = (1...1000).map { "u\($0),用户\($0)" }.joined(separator: "\n")
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "inbox: {settle: 0s}\npipeline: {chunk: 100}\n",
            "templates/promo.yaml": "category: marketing\nsite: {content: \"优惠 {name}\"}\n",
            "templates/code.yaml": "category: verification\nsite: {content: \"验证码 {code}\"}\n",
            "recipients/inbox/promo.big.csv": "user_id,name\n\(rows)\n",
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        let inbox = workspace.url.appendingPathComponent("recipients/inbox")
        let dropped = NSLock()
        nonisolated(unsafe) var done = false
        // The code file arrives (by rename) while the first promo message is being sent.
        let transport = MemoryTransport(delay: { envelope in
            dropped.withLock {
                guard !done, envelope.message.template == "promo" else { return }
                done = true
                try? Data("user_id,code\nvip,123456\n".utf8).write(to: inbox.appendingPathComponent("code.login.csv.tmp"))
                try? FileManager.default.moveItem(at: inbox.appendingPathComponent("code.login.csv.tmp"),
                                                  to: inbox.appendingPathComponent("code.login.csv"))
            }
            return .zero
        })
        let run = RunContext(workspace: opened, transports: TransportSet.all(transport, configuration: opened.configuration),
                               ledger: MemoryLedger(), log: MemoryEventLog(), counters: MemoryRecipientCounters(), spool: MemorySpool())
        let summary = try await DropFolderRun(run).run()
        #expect(summary.counts[.channel(.site)]?[.status(.sent)] == 1001)
        let order = transport.sent.map(\.message.template)
        let code = try #require(order.firstIndex(of: "code"))
        #expect(code < 300, "sent between the first chunks (at \(code)), not after the 1000 promo messages")
        #expect(summary.processedFiles.sorted() == ["code.login.csv", "promo.big.csv"])
        #expect(summary.notes.contains { $0.contains("sent 1 verification file between chunks of promo.big.csv") })
    }
}
