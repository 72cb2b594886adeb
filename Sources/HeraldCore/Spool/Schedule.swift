import Foundation

/// Messages waiting for a time (`send_at`, escalations): listed and cancelled by
/// `herald schedule`. A cancelled message gets status `cancelled` in the log and the ledger and
/// leaves the spool, so it is never sent.
///
/// ```swift
/// let schedule = Schedule(spool: spool, ledger: ledger, log: log)
/// try schedule.cancel(batch: "order_shipped.csv")   // every scheduled message of that file
/// ```
public struct Schedule: Sendable {
    /// Where the messages wait.
    public var spool: any Spool
    /// The ledger that records the cancellation.
    public var ledger: any Ledger
    /// The log that gets one line per cancelled message.
    public var log: any EventLog
    /// How addresses are shown in the log.
    public var masking: RecipientMasking
    /// The time of cancellations.
    public var clock: @Sendable () -> Date

    /// Creates the schedule over a workspace's stores.
    public init(spool: any Spool, ledger: any Ledger, log: any EventLog, masking: RecipientMasking = .masked,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.spool = spool
        self.ledger = ledger
        self.log = log
        self.masking = masking
        self.clock = clock
    }

    /// Scheduled messages and held-back escalations, next due first; only those of `batch` (a
    /// batch file's name or a batch id) when given.
    public func waiting(batch: String? = nil) async throws -> [SpoolEntry] {
        try await spool.entries()
            .filter { $0.kind == .scheduled || $0.kind == .escalation }
            .filter { entry in batch.map { entry.file == $0 || entry.batch == $0 } ?? true }
            .sorted { ($0.nextAttempt, $0.id) < ($1.nextAttempt, $1.id) }
    }

    /// Cancels the waiting messages of `batch`, or the one message `message`: the log line and
    /// the ledger row say `cancelled` first, then the spool lets them go (a crash in between
    /// leaves an entry that the next run finds cancelled and drops). Returns what was cancelled.
    @discardableResult
    public func cancel(batch: String? = nil, message: String? = nil) async throws -> [SpoolEntry] {
        let chosen = try await waiting(batch: batch).filter { entry in message.map { entry.id == $0 } ?? true }
        guard !chosen.isEmpty else { return [] }
        let now = clock()
        let reason = "cancelled with herald schedule cancel before its time"
        try log.append(chosen.map { entry in
            LogEvent(timestamp: now, messageID: MessageID(entry.id), batch: entry.batch, file: entry.file, row: entry.row, line: entry.line,
                     template: entry.message.template, category: entry.category, channel: entry.channel, account: entry.account,
                     recipient: masking.apply(entry.address, channel: entry.channel), status: .cancelled,
                     error: PipelineError(stage: .record, file: entry.file, line: entry.line, row: entry.row, code: .cancelled, reason: reason))
        })
        try log.flush()
        try await ledger.record(chosen.map { entry in
            LedgerEntry(id: MessageID(entry.id), batch: entry.batch, row: entry.row, channel: entry.channel, template: entry.message.template,
                        status: .cancelled, errorCode: .cancelled, errorMessage: reason, updatedAt: now, file: entry.file)
        })
        for entry in chosen { try await spool.remove(entry.id) }
        return chosen
    }
}
