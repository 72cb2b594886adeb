import Foundation

/// Records in the ledger and the log what the send journal of an interrupted run says was sent,
/// before anything else runs: a message sent just before a crash is never sent again.
public struct JournalRecovery: RunPart, Sendable {
    /// What the run works with.
    public let context: RunContext

    /// The recovery of `context`'s journal.
    public init(_ context: RunContext) {
        self.context = context
    }

    /// Puts what the send journal of an interrupted run says was sent into the ledger and the
    /// log. Returns (recovered sends, messages that were in flight without an outcome).
    public func recover() async throws -> (recovered: Int, inFlight: Int) {
        guard let journal else { return (0, 0) }
        let (segments, sends, inFlight) = try journal.pending()
        guard !segments.isEmpty else { return (0, 0) }
        let known = try await ledger.statuses(of: sends.map(\.id))
        let now = clock()
        let fresh = sends.filter { known[$0.id]?.wasSent != true }
        try log.append(fresh.map { $0.logEvent(at: now, extra: ["recovered": "send journal"]) })
        try log.flush()
        try await ledger.record(fresh.map { $0.ledgerEntry(at: now) })
        for send in sends { try await spool?.remove(send.id.value) }
        for segment in segments { unlink(segment.path) }
        return (fresh.count, inFlight.count)
    }
}
