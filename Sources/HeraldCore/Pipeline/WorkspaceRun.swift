import Foundation

/// `herald run` and `herald send` over a workspace: builds the stage chain from the
/// workspace's configuration and the given transports, ledger and log.
public struct WorkspaceRun: Sendable {
    public var workspace: Workspace
    public var transports: TransportSet
    public var ledger: any Ledger
    public var log: any EventLog
    /// The wall clock for log timestamps and settle times.
    public var clock: @Sendable () -> Date

    /// Creates a run.
    public init(workspace: Workspace, transports: TransportSet, ledger: any Ledger, log: any EventLog,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.workspace = workspace
        self.transports = transports
        self.ledger = ledger
        self.log = log
        self.clock = clock
    }

    /// The stage chain; a dry run validates and renders but sends and records nothing.
    public func pipeline(dryRun: Bool = false) -> Pipeline {
        let renderer = workspace.renderer
        let catalog = workspace.catalog
        let attachments = AttachmentPolicy(workspace: workspace)
        if dryRun {
            return Pipeline([
                .load(from: catalog, ledger: ledger),
                .validate(using: renderer),
                .render(with: renderer, attachments: attachments),
                .rateLimit(),
            ])
        }
        return Pipeline([
            .load(from: catalog, ledger: ledger),
            .validate(using: renderer),
            .render(with: renderer, attachments: attachments),
            .rateLimit(),
            .send(through: transports),
            .record(to: ledger, log: log, masking: workspace.configuration.recipientMasking, clock: clock),
        ])
    }

    /// Every complete batch in the inbox, in name order. Each file read through moves to
    /// processed/ (not in a dry run); an unreadable one moves to rejected/ with its reason,
    /// and the run goes on to the next file.
    public func runInbox(dryRun: Bool = false,
                         progress: (@Sendable (BatchProgress) -> Void)? = nil) async throws -> RunSummary {
        let inbox = Inbox(root: workspace.root, settle: workspace.configuration.settle)
        let (ready, settling) = try inbox.scan(now: clock())
        var summary = RunSummary()
        summary.settlingFiles = settling
        let runner = BatchRunner(pipeline: pipeline(dryRun: dryRun), catalog: workspace.catalog,
                                 chunkSize: workspace.configuration.chunkSize)
        for url in ready {
            do {
                let batch = try await runner.run(url, progress: progress)
                try log.flush()
                summary.merge(batch)
                summary.processedFiles.append(url.lastPathComponent)
                if !dryRun { try inbox.markProcessed(url) }
            } catch let rejection as BatchRejection {
                try log.flush()
                summary.rejectedFiles.append((url.lastPathComponent, rejection.description))
                if !dryRun { try inbox.reject(url, because: rejection, at: clock(), timeZone: workspace.configuration.timeZone) }
            }
        }
        return summary
    }

    /// One notification from the command line (`herald send`), through the same chain.
    /// `batchID` makes the send idempotent: sending again with the same id is a duplicate.
    public func send(_ row: RecipientRow, batchID: String, dryRun: Bool = false) async throws -> RunSummary {
        let runner = BatchRunner(pipeline: pipeline(dryRun: dryRun), catalog: workspace.catalog)
        let summary = try await runner.run(rows: [row], batch: BatchContext(id: batchID, file: "send"))
        try log.flush()
        return summary
    }
}
