import HeraldCore

/// The site channel's transport: accepts the message, and the record stage stores it in the
/// in-app inbox in the same database transaction as its ledger entry.
public struct InboxTransport: Transport {
    /// The name in logs.
    public let name = "inbox"
    /// How many messages it may have in flight at once.
    public let concurrency = 1
    /// Nothing leaves Herald: the inbox row is written with the ledger, so no journal is needed.
    public var hasSideEffects: Bool { false }

    /// Creates the transport.
    public init() {}

    /// Sent: the record stage stores the 站内信 in the inbox, in the ledger's transaction.
    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        var outcome = DeliveryOutcome.sent(providerID: nil)
        outcome.storesInInbox = true
        return outcome
    }
}
