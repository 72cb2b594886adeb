import Foundation
import GRDB

/// `outbox/herald.sqlite`, opened once and shared by the stores of every module (WAL mode).
/// Each store owns its tables and their migrations and runs them when it is created over the
/// database, so a module never writes another's tables:
///
/// ```swift
/// let database = try WorkspaceDatabase(url: paths.database)
/// let ledger = try SQLiteLedger(database: database)             // ledger, batches, ledger_state
/// let counters = try SQLiteRecipientCounters(database: database) // recipient_sends
/// let tokens = try SQLiteAccessTokenStore(database: database)    // access_tokens
/// let inbox = try SQLiteInboxStore(database: database)           // site_messages, notices (HeraldInbox)
/// ```
///
/// Migration identifiers are global to the file (`1-ledger` … `6-fingerprints`), so databases
/// written before the stores were split keep working.
public final class WorkspaceDatabase: Sendable {
    /// The connection pool.
    public let pool: DatabasePool

    /// Opens (creating if needed) the database at `url`.
    public init(url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var configuration = GRDB.Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -16384")
        }
        pool = try DatabasePool(path: url.path, configuration: configuration)
    }

    /// Runs a store's own migrations, given in order as (identifier, SQL) steps; a step already
    /// applied (by this store or by an earlier Herald) is passed over.
    public func migrate(_ steps: [(identifier: String, sql: String)]) throws {
        var migrator = DatabaseMigrator()
        for step in steps {
            migrator.registerMigration(step.identifier) { db in try db.execute(sql: step.sql) }
        }
        try migrator.migrate(pool)
    }
}

/// One write transaction of a store, handed to another module's store so its rows commit (or
/// roll back) with the ledger's: the 站内信 of a chunk are stored if and only if the ledger
/// records them as sent. `database` is nil for the in-memory stores.
public struct StoreTransaction {
    /// Another store's writes, run inside a ledger write's transaction.
    public typealias Work = @Sendable (StoreTransaction) throws -> Void

    /// The SQLite connection inside the transaction, for SQLite stores.
    public let database: Database?
    /// The open transaction of a store Core does not know, for its stores (HeraldPostgres hands
    /// over a list its stores add statements to; the ledger runs them in its transaction).
    public let session: (any Sendable)?

    /// Wraps a transaction's connection (nil for the in-memory stores).
    public init(database: Database?, session: (any Sendable)? = nil) {
        self.database = database
        self.session = session
    }
}
