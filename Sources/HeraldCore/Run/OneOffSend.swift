import Foundation

/// `herald send`: notifications from the command line, one row per recipient, through the whole chain.
public struct OneOffSend: RunPart, Sendable {
    /// What the run works with.
    public let context: RunContext

    /// A send over `context`.
    public init(_ context: RunContext) {
        self.context = context
    }

    /// Notifications from the command line (`herald send`, one row per recipient), through the same chain.
    /// `batchID` makes the send idempotent: sending again with the same id is a duplicate.
    public func send(_ rows: [RecipientRow], batchID: String, dryRun: Bool = false) async throws -> RunSummary {
        if !dryRun { _ = try await JournalRecovery(context).recover() }
        let runner = BatchRunner(pipeline: pipeline(dryRun: dryRun), catalog: workspace.catalog)
        let summary = try await runner.run(rows: rows, batch: BatchContext(id: batchID, file: "send"))

        try log.flush()
        return summary
    }
}
