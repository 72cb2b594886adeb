import Foundation
import Testing
import HeraldCore
import HeraldInbox
import HeraldRuntime
import HeraldTestSupport

/// The one place that picks stores and builds a run's context.
@Suite(.timeLimit(.minutes(1))) struct WorkspaceWiringTests {
    /// Embedded: the ledger is built with the SQLite inbox as its 站内信 writer, so a 站内信 sent
    /// through the context lands in the inbox in the ledger's transaction.
    @Test func anEmbeddedRunStoresItsSiteMessagesInTheWorkspaceInbox() async throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "inbox: {settle: 0s}\n",
            "templates/alert.yaml": "site: {content: \"您的订单 {orderId} 待支付\"}\n",
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        let context = try await WorkspaceWiring.open(opened)
        let row = RecipientRow(row: 1, template: "alert", recipient: Recipient(userID: "10001"), parameters: ["orderId": "A1"])
        let summary = try await OneOffSend(context).send([row], batchID: "send:wiring")
        #expect(summary.counts == [.channel(.site): [.status(.sent): 1]])
        let inbox = try WorkspaceWiring.Stores(opened).inbox
        let page = try await inbox.list(tenant: "0", user: "10001", unreadOnly: true, page: 1, size: 10, now: Date())
        #expect(page.items.map(\.content) == ["您的订单 A1 待支付"])
        #expect(workspace.exists("outbox/herald.sqlite"))
    }
}
