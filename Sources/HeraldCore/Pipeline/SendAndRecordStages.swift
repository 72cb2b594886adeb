import Foundation

extension PipelineStage {
    /// **send**: hands each rendered delivery to its transport, at most `concurrency` at a
    /// time per transport, and keeps the outcome. Transient failures become `deferred`,
    /// permanent ones `failed`.
    public static func send(through transports: TransportSet) -> PipelineStage {
        PipelineStage(.send) { jobs in
            var groups: [String: (transport: any Transport, items: [(Int, Int)])] = [:]
            var order: [String] = []
            for j in jobs.indices where jobs[j].failure == nil {
                for d in jobs[j].deliveries.indices where jobs[j].deliveries[d].isPending {
                    let delivery = jobs[j].deliveries[d]
                    guard let transport = transports.transport(channel: delivery.channel, account: delivery.account) else {
                        jobs[j].deliveries[d].status = .failed
                        jobs[j].deliveries[d].error = jobs[j].error(.send, StageFailure(.failed, code: "no_transport",
                            "no transport for \(delivery.channel.rawValue) '\(delivery.account)'; define it in herald.yaml"))
                        continue
                    }
                    let key = "\(delivery.channel.rawValue)/\(delivery.account)"
                    if groups[key] == nil {
                        groups[key] = (transport, [])
                        order.append(key)
                    }
                    groups[key]?.items.append((j, d))
                }
            }
            for key in order {
                guard let group = groups[key] else { continue }
                let envelopes = group.items.compactMap { j, d in envelope(jobs[j], jobs[j].deliveries[d]) }
                let outcomes = await group.transport.send(all: envelopes)
                for ((j, d), outcome) in zip(group.items, outcomes) {
                    apply(outcome, latency: outcome.latency ?? .zero, transport: group.transport.name, to: &jobs[j], delivery: d)
                }
            }
        }
    }

    private static func envelope(_ job: Job, _ delivery: Delivery) -> Envelope? {
        guard let message = delivery.message else { return nil }
        return Envelope(id: delivery.id, batch: job.batch, row: job.row.row, channel: delivery.channel, account: delivery.account,
                        address: delivery.address, recipient: job.row.recipient, message: message, mail: job.row.mail)
    }

    private static func apply(_ outcome: DeliveryOutcome, latency: Duration, transport: String, to job: inout Job, delivery d: Int) {
        job.deliveries[d].latency = latency
        job.deliveries[d].transport = transport
        job.deliveries[d].providerID = outcome.providerID
        switch outcome.kind {
        case .sent:
            job.deliveries[d].status = .sent
        case .transient, .permanent:
            let status: DeliveryStatus = outcome.kind == .transient ? .deferred : .failed
            let code = outcome.code ?? (outcome.kind == .transient ? "transient" : "permanent")
            job.deliveries[d].status = status
            job.deliveries[d].error = job.error(.send, StageFailure(status, code: code, outcome.message ?? code))
        }
    }

    /// **record**: appends one log line per outcome (row order kept), then writes the ledger
    /// in one transaction. The log goes first: after a crash between the two, the message is
    /// sent again rather than lost, and reports count its id once.
    ///
    /// The writing runs in the background while the next chunk is prepared and sent, one chunk
    /// deep: a chunk waits for the previous chunk's write, and the end of a batch waits for all.
    public static func record(to ledger: any Ledger, log: any EventLog, masking: RecipientMasking,
                              clock: @escaping @Sendable () -> Date) -> PipelineStage {
        let writer = RecordWriter(ledger: ledger, log: log)
        return PipelineStage(.record, chunk: { jobs in
            let now = clock()
            var events: [LogEvent] = []
            var entries: [LedgerEntry] = []
            events.reserveCapacity(jobs.count)
            entries.reserveCapacity(jobs.count)
            for job in jobs {
                let template = job.template
                if let failure = job.failure {
                    let id = job.batch.messageID(row: job.row.row, channel: "row")
                    let status = job.failureStatus ?? .invalid
                    events.append(LogEvent(timestamp: now, messageID: id, batch: job.batch.id, file: job.batch.file,
                                           row: job.row.row, line: job.row.line, template: job.row.template,
                                           category: template?.category, status: status, error: failure,
                                           extra: job.extraParameters))
                    entries.append(LedgerEntry(id: id, batch: job.batch.id, row: job.row.row, channel: nil, template: job.row.template,
                                               status: status, errorCode: failure.code, errorMessage: failure.reason, updatedAt: now))
                    continue
                }
                for delivery in job.deliveries {
                    guard let status = delivery.status, status != .duplicate else { continue }
                    events.append(LogEvent(
                        timestamp: now, messageID: delivery.id, batch: job.batch.id, file: job.batch.file, row: job.row.row,
                        line: job.row.line, template: template?.code, category: template?.category, channel: delivery.channel,
                        account: delivery.account.isEmpty ? nil : delivery.account, transport: delivery.transport,
                        recipient: delivery.address.isEmpty ? nil : masking.apply(delivery.address, channel: delivery.channel),
                        status: status, attempt: delivery.attempt,
                        latencyMilliseconds: delivery.latency.map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 },
                        providerID: delivery.providerID, error: delivery.error, extra: job.extraParameters))
                    entries.append(LedgerEntry(id: delivery.id, batch: job.batch.id, row: job.row.row, channel: delivery.channel,
                                               template: template?.code, status: status, attempt: delivery.attempt,
                                               providerID: delivery.providerID, errorCode: delivery.error?.code,
                                               errorMessage: delivery.error?.reason, updatedAt: now))
                }
            }
            try await writer.submit(events, entries)
        }, finish: {
            try await writer.drain()
        })
    }
}

/// Writes log events and ledger entries on a background task, one chunk at a time.
final class RecordWriter: @unchecked Sendable {
    private let ledger: any Ledger
    private let log: any EventLog
    private let lock = NSLock()
    private var pending: Task<Void, Error>?

    init(ledger: any Ledger, log: any EventLog) {
        self.ledger = ledger
        self.log = log
    }

    /// Waits for the previous chunk's write, then starts this one's.
    func submit(_ events: [LogEvent], _ entries: [LedgerEntry]) async throws {
        try await drain()
        let ledger = ledger, log = log
        let task = Task.detached {
            try log.append(events)
            try ledger.record(entries)
        }
        lock.withLock { pending = task }
    }

    /// Waits until everything submitted is written; rethrows a write's failure.
    func drain() async throws {
        let task = lock.withLock { () -> Task<Void, Error>? in
            defer { pending = nil }
            return pending
        }
        try await task?.value
    }
}
