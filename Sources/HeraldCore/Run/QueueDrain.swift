import Foundation

/// Sends chunks queued by every worker (PostgreSQL mode), most urgent first, until the queue has
/// none this worker may take.
public struct QueueDrain: RunPart, Sendable {
    /// What the run works with.
    public let context: RunContext
    /// Checked between chunks: when it says stop, the rest stays queued.
    public let shouldStop: @Sendable () -> Bool

    /// The drain of `context`'s queue; `shouldStop` is asked between chunks.
    public init(_ context: RunContext, shouldStop: @escaping @Sendable () -> Bool = { false }) {
        self.context = context
        self.shouldStop = shouldStop
    }

    /// Sends queued chunks, most urgent first, until the queue has none this worker may take:
    /// each chunk is leased, run through the whole chain, recorded, then removed. Chunk N is
    /// delivered while chunk N+1 is prepared, as in a batch.
    public func drain(progress: (@Sendable (BatchProgress) -> Void)? = nil) async throws -> RunSummary {
        guard let queue else { return RunSummary() }
        let pipeline = pipeline()
        let preparation = pipeline.preparation, delivery = pipeline.delivery
        let name = worker.resolvedName, lease = worker.lease
        var summary = RunSummary()
        var rows = 0
        // This process holds the worker's name (a store lock), and its journal was recovered before
        // the drain: chunks still leased to the name were left by an earlier process of this worker
        // (killed, or a drain that failed). They go back to the queue now, not when the lease ends.
        let released = try await queue.release(worker: name)
        if released > 0 {
            summary.notes.append("took back \(released) chunk\(released == 1 ? "" : "s") left leased to worker \(name) by an earlier process")
        }
        _ = try? await context.progress?.prune(recordedBefore: clock().addingTimeInterval(-3600))
        var inFlight: (chunk: QueuedChunk, task: Task<[Job], Error>, heartbeat: LeaseHeartbeat)?
        // A delivered chunk leaves the queue only once its record write (spool, log, ledger) is
        // done, which the record stage waits for two chunks later, or at the chain's finish:
        // removed sooner, a crash meanwhile would lose what it deferred and leave its sends
        // unrecorded.
        var delivered: [(chunk: QueuedChunk, heartbeat: LeaseHeartbeat)] = []
        func finishDelivered(keeping kept: Int) async throws {
            while delivered.count > kept {
                let (chunk, heartbeat) = delivered.removeFirst()
                heartbeat.cancel()
                try await queue.finish(chunk.id)
            }
        }
        func collect() async throws {
            guard let (chunk, task, heartbeat) = inFlight else { return }
            inFlight = nil
            let done: [Job]
            do {
                done = try await task.value
            } catch {
                heartbeat.cancel()
                throw error
            }
            try await finishDelivered(keeping: 1)
            delivered.append((chunk, heartbeat))
            summary.add(done)
            rows += done.count
            progress?(BatchProgress(file: chunk.batch.file, rows: rows, fraction: 0))
        }
        do {
            while !shouldStop(), let chunk = try await queue.claim(worker: name, lease: lease) {
                // The chunk keeps its lease from the claim until it is finished, however long the
                // previous chunk's delivery or its own takes (a rate of 10/s, a slow provider):
                // renewed every third of the lease. Leases run on the database's wall clock, so
                // this waits real time, not the run's clock.
                let id = chunk.id
                let heartbeat = LeaseHeartbeat(every: lease / 3) { try? queue.renew(id, worker: name, lease: lease) }
                var jobs = chunk.records.map { BatchRunner.job(for: $0, batch: chunk.batch) }
                do {
                    if chunk.claims > 1 {
                        // Another worker held it and did not finish: what it sent is recorded as
                        // sent first, then the load stage finds it in the ledger as a duplicate.
                        summary.recoveredShared += try await recordSharedSends(of: jobs)
                        for j in jobs.indices { jobs[j].isRetaken = true }
                    }
                    try await preparation.run(&jobs)
                    try await collect()
                } catch {
                    heartbeat.cancel()
                    throw error
                }
                inFlight = (chunk, Task { [jobs] in
                    var jobs = jobs
                    try await delivery.run(&jobs)
                    return jobs
                }, heartbeat)
            }
            try await collect()
            try await pipeline.finish()
            try await finishDelivered(keeping: 0)
        } catch {
            // What is not finished keeps its lease until it runs out, or this worker restarts.
            _ = try? await inFlight?.task.value
            inFlight?.heartbeat.cancel()
            for (_, heartbeat) in delivered { heartbeat.cancel() }
            try await pipeline.finish()
            try log.flush()
            throw error
        }
        try log.flush()
        if summary.stopped == false, shouldStop() { summary.stopped = true }
        return summary
    }

    /// Records in the ledger and the log, as sent, what the shared store says another worker sent
    /// of `jobs` (a retaken chunk) and the ledger does not hold yet: that worker died before its
    /// chunk reached the ledger, and perhaps with its journal. Returns how many.
    func recordSharedSends(of jobs: [Job]) async throws -> Int {
        guard let progress = context.progress else { return 0 }
        let ids = jobs.flatMap { job in
            Channel.allCases.map { job.batch.messageID(row: job.row.row, channel: $0.rawValue) }
        }
        let shared = try await progress.sends(of: ids)
        guard !shared.isEmpty else { return 0 }
        let known = try await ledger.statuses(of: Array(shared.keys))
        let fresh = shared.values.filter { known[$0.send.id]?.wasSent != true }.sorted { $0.send.id.value < $1.send.id.value }
        guard !fresh.isEmpty else { return 0 }
        let now = clock()
        let zone = workspace.configuration.timeZone
        try log.append(fresh.map { shared in
            shared.send.logEvent(at: now, extra: ["recovered": "shared store", "sent_by": shared.worker,
                                                  "sent_at": Timestamp.iso8601(shared.at, timeZone: zone)])
        })
        try log.flush()
        try await ledger.record(fresh.map { $0.send.ledgerEntry(at: now, worker: $0.worker) })
        return fresh.count
    }
}

/// Renews a chunk's lease on a timer of Dispatch's, not a task: a cooperative pool busy with
/// other work (or blocked in a store call) cannot make it miss a renewal.
///
/// `@unchecked Sendable`: Dispatch's timer source is not marked Sendable; it is set up once and cancel() is thread-safe.
final class LeaseHeartbeat: @unchecked Sendable {
    private let timer: DispatchSourceTimer

    init(every interval: Duration, renew: @escaping @Sendable () -> Void) {
        timer = DispatchSource.makeTimerSource(queue: .global())
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        timer.schedule(deadline: .now() + seconds, repeating: seconds)
        timer.setEventHandler(handler: renew)
        timer.resume()
    }

    func cancel() {
        timer.cancel()
    }

    deinit {
        timer.cancel()
    }
}

