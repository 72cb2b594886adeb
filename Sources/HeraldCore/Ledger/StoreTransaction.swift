/// One adapter's open write transaction, handed by its ledger to another store of the same
/// adapter so their rows commit or roll back together: the 站内信 of a chunk are in the inbox if
/// and only if the ledger records them sent. Each adapter has its own type (`SQLiteTransaction`,
/// `PostgresTransaction`, `MemoryTransaction`), and a ledger takes a writer of its own adapter's
/// type, so the two meet when the stores are built, with no downcast at run time:
///
/// ```swift
/// let inbox = try SQLiteInboxStore(database: database)
/// let ledger = try SQLiteLedger(database: database, siteMessages: inbox)   // any SiteMessageWriter<SQLiteTransaction>
/// try await ledger.record(entries, siteMessages: chunk)                    // one transaction
/// ```
public protocol StoreTransaction {}

/// Stores 站内信 inside another store's write transaction of type `Transaction`.
public protocol SiteMessageWriter<Transaction>: Sendable {
    /// The adapter's transaction this writer works in.
    associatedtype Transaction: StoreTransaction
    /// Stores `messages` within `transaction`; a message id already stored is left as it is.
    func deliver(_ messages: [SiteDelivery], in transaction: Transaction) throws
}

/// The in-memory stores' transaction: the memory ledger's lock is held while it is open.
public struct MemoryTransaction: StoreTransaction {
    /// A transaction of the in-memory stores.
    public init() {}
}

/// A ledger was asked to store 站内信 but was built without a store for them.
public struct NoSiteMessageStore: Error, CustomStringConvertible {
    /// The error.
    public init() {}

    public var description: String {
        "site messages were sent through the inbox transport, but the ledger was built without a 站内信 store"
    }
}
