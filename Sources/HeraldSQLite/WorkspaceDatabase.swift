import Foundation
import GRDB
import HeraldCore

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

/// A write transaction open on the workspace database, handed by the ledger to the inbox store
/// so a chunk's 站内信 commit with its ledger entries.
public struct SQLiteTransaction: StoreTransaction {
    /// The connection, inside the transaction.
    public let database: Database

    /// Wraps a connection inside a write transaction.
    public init(_ database: Database) {
        self.database = database
    }
}
