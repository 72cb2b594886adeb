import Foundation

/// Progress of one batch, for progress bars and periodic lines.
public struct BatchProgress: Sendable, Hashable {
    /// The file.
    public var file: String
    /// Rows read so far.
    public var rows: Int
    /// Fraction of the file read.
    public var fraction: Double
}

/// Takes batch files through the pipeline: fingerprint, read in chunks, run the stages,
/// move the file when done.
public struct BatchRunner: Sendable {
    /// The stage chain.
    public var pipeline: Pipeline
    /// The workspace's templates (for file-name templates).
    public var catalog: TemplateCatalog
    /// Rows per chunk.
    public var chunkSize: Int
    /// Checked between chunks; when true the batch stops (the summary says `stopped`).
    public var shouldStop: @Sendable () -> Bool
    /// Whether the ledger knows a batch id; an undeclared file it knows under its bytes-only id
    /// (from before the name joined the identity) keeps that id.
    public var ledgerKnows: (@Sendable (String) async throws -> Bool)?
    /// Called between chunks (after a chunk is prepared, before it is handed to delivery): where
    /// a run sends verification files that arrived meanwhile, so a code never waits for the end
    /// of a campaign.
    public var betweenChunks: (@Sendable () async throws -> Void)?

    /// Creates a runner.
    public init(pipeline: Pipeline, catalog: TemplateCatalog, chunkSize: Int = 512,
                shouldStop: @escaping @Sendable () -> Bool = { false }) {
        self.pipeline = pipeline
        self.catalog = catalog
        self.chunkSize = max(1, chunkSize)
        self.shouldStop = shouldStop
    }

    /// Reads `url` through the pipeline. Throws `BatchRejection` when the file cannot be
    /// read at all (nothing of it was sent), `FatalStageError` when the run must stop.
    public func run(_ url: URL, progress: (@Sendable (BatchProgress) -> Void)? = nil) async throws -> RunSummary {
        let (reader, batch) = try await Self.open(url, catalog: catalog, ledgerKnows: ledgerKnows)
        var summary = RunSummary()
        var rows = 0
        let preparation = pipeline.preparation, delivery = pipeline.delivery
        // Chunk N is delivered (sent and recorded) while chunk N+1 is read, validated and
        // rendered, so connections do not wait for the CPU work of the next chunk.
        var inFlight: Task<[Job], Error>?
        func collect() async throws {
            guard let task = inFlight else { return }
            inFlight = nil
            let done = try await task.value
            summary.add(done)
            rows += done.count
            progress?(BatchProgress(file: batch.file, rows: rows, fraction: reader.progress))
        }
        do {
            while true {
                if shouldStop() {
                    summary.stopped = true
                    break
                }
                var jobs: [Job] = []
                jobs.reserveCapacity(chunkSize)
                while jobs.count < chunkSize, let record = try reader.next() {
                    jobs.append(Self.job(for: record, batch: batch))
                }
                if jobs.isEmpty { break }
                try await preparation.run(&jobs)
                try await collect()
                try await betweenChunks?()
                inFlight = Task { [jobs] in
                    var jobs = jobs
                    try await delivery.run(&jobs)
                    return jobs
                }
            }
            try await collect()
        } catch var rejection as BatchRejection {
            // The file turned out unreadable part-way: what was handled before still reaches the
            // log and ledger, and the rejection says what that was.
            try await collect()
            try await pipeline.finish()
            if !summary.counts.isEmpty { rejection.handled = summary }
            throw rejection
        } catch {
            // What was sent before the failure must still reach the log and ledger.
            _ = try? await inFlight?.value
            try await pipeline.finish()
            throw error
        }

        try await pipeline.finish()
        return summary
    }

    /// Opens a batch file: its reader, and its identity (the declared id, else the file's name and
    /// bytes; a file the ledger knows under its bytes-only id keeps that id).
    public static func open(_ url: URL, catalog: TemplateCatalog,
                            ledgerKnows: (@Sendable (String) async throws -> Bool)?) async throws -> (reader: any BatchReader, batch: BatchContext) {
        let fingerprint = try BatchFingerprint.compute(url)
        let reader = try BatchReaders.open(url, catalog: catalog)
        var id = reader.declaredID ?? fingerprint.batchID
        if reader.declaredID == nil, let legacy = fingerprint.legacyBatchID, let ledgerKnows, try await ledgerKnows(legacy) {
            id = legacy
        }
        return (reader, BatchContext(id: id, file: url.lastPathComponent))
    }

    /// Runs rows given directly (`herald send`) through the pipeline.
    public func run(rows: [RecipientRow], batch: BatchContext) async throws -> RunSummary {
        var jobs = rows.map { Job(batch: batch, row: $0) }
        try await pipeline.run(&jobs)
        try await pipeline.finish()
        var summary = RunSummary()
        summary.add(jobs)
        return summary
    }

    /// The job of one record read from a batch (an unreadable one fails at load).
    public static func job(for record: BatchRecord, batch: BatchContext) -> Job {
        switch record {
        case let .row(row):
            return Job(batch: batch, row: row)
        case let .unreadable(row, line, reason):
            var job = Job(batch: batch, row: RecipientRow(row: row, line: line))
            job.fail(.load, StageFailure(.invalid, code: .unreadableRow, reason))
            return job
        }
    }
}
