import Foundation
import Synchronization

/// A whole `herald run` cycle (also each cycle of `herald watch`): the journal's recovery, due
/// retries, receipts and bounces, then every complete file of the drop folder, most urgent
/// first; with a work queue, files are queued and the queue drained; finally due digests.
public struct DropFolderRun: RunPart, Sendable {
    /// What the run works with.
    public let context: RunContext
    /// Checked between chunks: when it says stop, the file in hand stays in the drop folder.
    public let shouldStop: @Sendable () -> Bool
    /// Files known to be whole because they were renamed into the drop folder (the watcher's
    /// file-system events say so): taken at once, without waiting for the settle time.
    public let arrivedComplete: Set<String>

    /// A cycle over `context`; `shouldStop` is asked between chunks.
    public init(_ context: RunContext, shouldStop: @escaping @Sendable () -> Bool = { false }, arrivedComplete: Set<String> = []) {
        self.context = context
        self.shouldStop = shouldStop
        self.arrivedComplete = arrivedComplete
    }

    /// What a run does, in order: what the journal of an interrupted run says was sent, due spool
    /// entries, waiting receipt files, then every complete batch in the drop folder in category
    /// order (verification first) and name order. Each file read through moves to processed/
    /// (not in a dry run); an unreadable one moves to rejected/ with its reason, and the run goes
    /// on to the next file.
    public func run(dryRun: Bool = false,
                    progress: (@Sendable (BatchProgress) -> Void)? = nil) async throws -> RunSummary {
        var summary = RunSummary()
        if !dryRun {
            let (recovered, inFlight) = try await JournalRecovery(context).recover()
            summary.recovered = recovered
            summary.inFlightAtCrash = inFlight
            summary.merge(try await SpoolDrain(context).drain(progress: progress))
            let intake = Intake(context)
            try await intake.receipts(into: &summary)
            try await intake.bounces(into: &summary)
        }
        try await runBatches(dryRun: dryRun, progress: progress, into: &summary)
        if !dryRun, queue != nil { summary.merge(try await QueueDrain(context, shouldStop: shouldStop).drain(progress: progress)) }
        if !dryRun { summary.merge(try await DigestDrain(context).drain()) }
        summary.pausedTransports = control.pausedTransports
        return summary
    }

    /// Every complete file of the drop folder, most urgent first: announcements are published,
    /// batches run through the chain.
    func runBatches(dryRun: Bool, progress: (@Sendable (BatchProgress) -> Void)?, into summary: inout RunSummary) async throws {
        let dropFolder = DropFolder(root: workspace.root, settle: workspace.configuration.settle)
        let (ready, settling) = try dropFolder.scan(now: clock(), complete: arrivedComplete)
        summary.settlingFiles = settling
        summary.notes += DropFolder.refused(in: dropFolder.folder)
        let runner = batchRunner(dryRun: dryRun)
        for url in context.prioritized(ready) {
            if shouldStop() { break }
            if let noticePublisher = context.noticePublisher, url.lastPathComponent.hasSuffix(".notice.json") {
                if dryRun { continue }
                do {
                    summary.notes.append("\(url.lastPathComponent): \(try await noticePublisher(url))")
                    try dropFolder.markProcessed(url)
                } catch let rejection as BatchRejection {
                    try reject(url, as: url.lastPathComponent, because: rejection, in: dropFolder, into: &summary)
                }
                continue
            }
            if let queue, !dryRun {
                try await enqueue(url, to: queue, in: dropFolder, into: &summary)
                continue
            }
            // While a batch that is not itself urgent runs, verification files that arrive are
            // sent between its chunks.
            var batchRunner = runner
            let urgent = UrgentFiles()
            if !dryRun, context.priority(of: url) > TemplateCategory.verification.priority {
                let run = self, current = url.lastPathComponent
                batchRunner.betweenChunks = { try await run.sendUrgentFiles(besides: current, in: dropFolder, into: urgent) }
            }
            let finished = try await runBatch(url, with: batchRunner, in: dropFolder, dryRun: dryRun, progress: progress, into: &summary)
            summary.merge(urgent.summary)
            guard finished else { break }
        }
    }

    /// One batch file through the chain, then to processed/ (or rejected/ with what was handled).
    /// Returns false when the run was asked to stop in the middle of it.
    func runBatch(_ url: URL, with runner: BatchRunner, in dropFolder: DropFolder, dryRun: Bool,
                  progress: (@Sendable (BatchProgress) -> Void)?, into summary: inout RunSummary) async throws -> Bool {
        var handled: RunSummary?
        do {
            let batch = try await runner.run(url, progress: progress)
            handled = batch
            try log.flush()
            summary.merge(batch)
            if batch.stopped {
                summary.interruptedFiles.append(url.lastPathComponent)
                return false
            }
            // Said done only once it is in processed/ (an unwritable processed/ rejects it instead).
            if !dryRun { try dropFolder.markProcessed(url) }
            summary.processedFiles.append(url.lastPathComponent)
        } catch var rejection as BatchRejection {
            try log.flush()
            // Rows handled before the problem (or the whole file, when only the move to
            // processed/ failed) are counted and named, never reported as "nothing sent".
            if let handled {
                rejection.handled = handled
            } else if let partial = rejection.handled {
                summary.merge(partial)
            }
            if dryRun {
                summary.rejectedFiles.append((url.lastPathComponent, rejection.description))
            } else {
                try reject(url, as: url.lastPathComponent, because: rejection, in: dropFolder, into: &summary)
            }
        }
        return true
    }

    /// Claims a batch file for this worker and queues its rows for every worker, then moves it to
    /// processed/. A file whose identity another worker (or an earlier run) took is counted as
    /// duplicates, logged with one batch line, and moved to processed/ too. A file unreadable
    /// part-way is rejected whole: nothing of it is queued.
    func enqueue(_ url: URL, to queue: any WorkQueue, in dropFolder: DropFolder, into summary: inout RunSummary) async throws {
        let name = url.lastPathComponent
        do {
            let ledger = ledger
            let (reader, batch) = try await BatchRunner.open(url, catalog: workspace.catalog, ledgerKnows: { try await ledger.knows(batch: $0) })
            let id = batch.id
            let chunkSize = workspace.configuration.chunkSize, catalog = workspace.catalog
            let filePriority = context.priority(of: url)
            // The file is read a few chunks ahead on a thread of its own while the queue writes.
            let ahead = ChunkReadAhead { () throws -> QueuedRecordChunk? in
                var records: [BatchRecord] = []
                records.reserveCapacity(chunkSize)
                while records.count < chunkSize, let record = try reader.next() { records.append(record) }
                guard !records.isEmpty else { return nil }
                let priorities = records.compactMap { record -> Int? in
                    guard case let .row(row) = record, let code = row.template else { return nil }
                    return catalog[code]?.category.priority
                }
                return QueuedRecordChunk(records: records, priority: priorities.min() ?? filePriority)
            }
            defer { ahead.cancel() }
            let claim = try await queue.enqueue(batch: batch, worker: worker.resolvedName) {
                try ahead.next().map { ($0.records, $0.priority) }
            }
            switch claim {
            case let .queued(rows, chunks):
                summary.notes.append("\(name): \(rows) row\(rows == 1 ? "" : "s") queued in \(chunks) chunk\(chunks == 1 ? "" : "s") for every worker")
            case let .takenBefore(owner, file, at):
                var rows = 0
                let again = try BatchReaders.open(url, catalog: workspace.catalog)
                while try again.next() != nil { rows += 1 }
                let reason = "batch \(id) was taken by worker \(owner) from \(file) at "
                    + "\(Timestamp.iso8601(at, timeZone: workspace.configuration.timeZone)); its \(rows) row\(rows == 1 ? "" : "s") were not queued again"
                var event = LogEvent(timestamp: clock(), messageID: batch.messageID(row: 0, channel: "batch"), batch: id, file: name,
                                     status: .duplicate, error: PipelineError(stage: .load, file: name, code: .duplicate, reason: reason))
                event.kind = .batch
                event.count = rows
                try log.append([event])
                try log.flush()
                summary.add(.row, .status(.duplicate), count: rows)
                summary.notes.append("\(name): \(reason)")
            }
            try dropFolder.markProcessed(url)
            summary.processedFiles.append(name)
        } catch let rejection as BatchRejection {
            try reject(url, as: name, because: rejection, in: dropFolder, into: &summary)
        }
    }

    /// Sends the verification files of the drop folder that are complete now (settled, or renamed
    /// in), other than `current`, each through a chain of its own; what they did goes into `urgent`.
    func sendUrgentFiles(besides current: String, in dropFolder: DropFolder, into urgent: UrgentFiles) async throws {
        let (ready, _) = try dropFolder.scan(now: clock(), complete: arrivedComplete)
        let files = ready.filter { $0.lastPathComponent != current && context.priority(of: $0) == TemplateCategory.verification.priority }
        guard !files.isEmpty else { return }
        let runner = batchRunner()
        var summary = RunSummary()
        for url in files {
            _ = try await runBatch(url, with: runner, in: dropFolder, dryRun: false, progress: nil, into: &summary)
        }
        summary.notes.append("sent \(files.count) verification file\(files.count == 1 ? "" : "s") between chunks of \(current)")
        urgent.add(summary)
    }

    /// A runner for drop-folder files: a chain of its own, this run's chunk size and stop flag, and
    /// the ledger for batch ids from before the name joined the identity.
    func batchRunner(dryRun: Bool = false) -> BatchRunner {
        var runner = BatchRunner(pipeline: pipeline(dryRun: dryRun), catalog: workspace.catalog,
                                 chunkSize: workspace.configuration.chunkSize, shouldStop: shouldStop)
        let ledger = ledger
        runner.ledgerKnows = { try await ledger.knows(batch: $0) }
        return runner
    }
}

/// A chunk of a batch on its way into the queue.
struct QueuedRecordChunk: Sendable {
    var records: [BatchRecord]
    var priority: Int
}

/// What the verification files sent between a batch's chunks did, gathered for the run's summary.
final class UrgentFiles: Sendable {
    private let gathered = Mutex(RunSummary())

    func add(_ summary: RunSummary) {
        gathered.withLock { $0.merge(summary) }
    }

    var summary: RunSummary { gathered.withLock { $0 } }
}
