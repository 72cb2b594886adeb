import Foundation
import HeraldChannels
import HeraldCore
import HeraldInbox
import HeraldPostgres
import HeraldReports
import HeraldSQLite

/// Wires a workspace to its stores and transports: the one place that knows which concrete
/// ledger, log, transports, preferences and 站内信 store a run uses, and builds its `RunContext`.
/// Commands call it, hand the context to a part of the run and print.
///
/// ```swift
/// let context = try await WorkspaceWiring.open(workspace) { warning in print(warning) }
/// let summary = try await DropFolderRun(context).run()
/// ```
public enum WorkspaceWiring {
    /// How long per-recipient cap counters are kept (the longest cap window is a day).
    public static let counterRetention: TimeInterval = 8 * 86_400

    /// The run context of `workspace`: its stores (the embedded SQLite file, or PostgreSQL when
    /// `store.url` is set; a ledger that lost what the logs know is refused), the JSON-lines log,
    /// the transports of herald.yaml, preferences and suppressions, and the notice publisher.
    /// Problems in the preference files go to `warn`. `stores` reuses stores already open (a
    /// watcher keeps its PostgreSQL pool across cycles).
    public static func open(_ workspace: Workspace, stores: Stores? = nil, now: Date = Date(),
                            warn: (String) -> Void = { _ in }) async throws -> RunContext {
        let paths = workspace.paths
        let stores = try stores ?? Stores(workspace)
        do {
            try await LedgerHistory.check(stores.ledger, logDirectory: paths.logs)
        } catch var lost as LedgerLost {
            lost.store = stores.location
            throw lost
        }
        do {
            try await stores.counters.pruneCounts(before: now.addingTimeInterval(-counterRetention))
            let configuration = workspace.configuration
            let log = try JSONLinesLog(directory: paths.logs, timeZone: configuration.timeZone,
                                       worker: stores.isShared ? configuration.worker.resolvedName : nil)
            let transports = Transports.make(root: workspace.root, configuration: configuration, tokens: stores.tokens,
                                             inbox: InboxTransport())
            let (preferences, problems) = Preferences.load(root: workspace.root, store: stores.optOuts)
            for problem in problems { warn(problem.description) }
            try await stores.optOuts.load(into: preferences)
            // In PostgreSQL mode each send also reaches the shared store as it happens.
            let journal = SendJournal(root: workspace.root, progress: stores.progress.map {
                SendProgress(store: $0, worker: configuration.worker.resolvedName)
            })
            let index = TraceIndex(logDirectory: paths.logs)
            let inbox = stores.inbox
            return RunContext(
                workspace: workspace, transports: transports, ledger: stores.ledger, log: log,
                counters: stores.counters, preferences: preferences, spool: stores.spool, journal: journal,
                siteMessages: stores.inbox, digests: stores.digests, queue: stores.queue, progress: stores.progress,
                receiptQueue: stores.receipts, worker: configuration.worker, sharedRates: stores.rates, quotas: stores.quotas,
                receiptParsers: ProviderReceipts.parsers, bounceParser: DeliveryReportParser(),
                noticePublisher: { url in
                    let notice = try await NoticeFile.publish(url, to: inbox, now: Date())
                    return "published announcement n\(notice.id) to tenant \(notice.tenantID)"
                },
                recipientLookup: { address in try index.latestMail(to: address) })
        } catch {
            throw RuntimeError("cannot open \(stores.location): \(error)")
        }
    }

    /// Every store of a workspace: over its one SQLite file (`outbox/herald.sqlite`, the spool in
    /// `outbox/spool/`) by default, or over one PostgreSQL database shared by every worker and
    /// replica when herald.yaml sets `store.url`. The one place that picks implementations.
    public struct Stores: Sendable {
        /// The ledger (it stores the 站内信 of a chunk in its transaction).
        public let ledger: any Ledger
        /// Per-recipient cap counters.
        public let counters: any RecipientCounters
        /// WeChat access tokens.
        public let tokens: any AccessTokenStore
        /// 站内信 and 系统公告.
        public let inbox: any InboxStore & SiteMessageStore
        /// The retry spool.
        public let spool: any Spool
        /// The work queue shared by workers; nil when embedded.
        public let queue: (any WorkQueue)?
        /// Rate buckets shared by workers; nil when embedded.
        public let rates: (any SharedRateBuckets)?
        /// Opt-outs and suppressions Herald records (the CSV files, or PostgreSQL).
        public let optOuts: any OptOutStore
        /// Daily quotas per account (`daily_quota`).
        public let quotas: any AccountQuotas
        /// Receipt pushes kept as rows by `herald serve`; nil when embedded (they are files).
        public let receipts: (any ReceiptQueue)?
        /// Digests collecting rows (`outbox/spool/digests/`, or PostgreSQL).
        public let digests: any DigestStore
        /// Sends recorded as they happen for every worker; nil when embedded (the journal is enough).
        public let progress: (any SendProgressStore)?
        /// Where the stores live, for messages (never with a password).
        public let location: String
        /// The PostgreSQL stores, when that is where state lives.
        public let postgres: PostgresStores?

        /// Whether state is shared with other workers (PostgreSQL).
        public var isShared: Bool { postgres != nil }

        /// Opens the stores herald.yaml's `store:` names.
        public init(_ workspace: Workspace) throws {
            let configuration = workspace.configuration
            if let url = configuration.store.url, url.value.isEmpty {
                // Never fall back to the local file when the shared store was asked for.
                throw RuntimeError("store.url names the environment variable \(url.variable), which is not set")
            }
            if configuration.store.isShared {
                let shared: PostgresStores
                do {
                    shared = try PostgresStores(settings: configuration.store, worker: configuration.worker)
                } catch {
                    throw RuntimeError("cannot open the PostgreSQL store (store.url): \(error)")
                }
                ledger = shared.ledger
                counters = shared.counters
                tokens = shared.tokens
                inbox = shared.inbox
                spool = shared.spool
                queue = shared.queue
                rates = shared.rates
                quotas = shared.quotas
                optOuts = shared.optOuts
                receipts = shared.receipts
                digests = shared.digests
                progress = shared.progress
                location = shared.pool.location
                postgres = shared
                return
            }
            do {
                let database = try WorkspaceDatabase(url: workspace.paths.database)
                let inbox = try SQLiteInboxStore(database: database)
                ledger = try SQLiteLedger(database: database, siteMessages: inbox)
                self.inbox = inbox
                counters = try SQLiteRecipientCounters(database: database)
                tokens = try SQLiteAccessTokenStore(database: database)
                quotas = try SQLiteAccountQuotas(database: database)
            } catch {
                throw RuntimeError("cannot open outbox/herald.sqlite: \(error)")
            }
            spool = FileSpool(root: workspace.root)
            optOuts = FileOptOutStore(root: workspace.root)
            digests = FileDigestStore(root: workspace.root)
            queue = nil
            progress = nil
            rates = nil
            receipts = nil
            location = "outbox/herald.sqlite"
            postgres = nil
        }
    }

    /// Holds this worker's name in the shared store for as long as the returned value lives
    /// (`herald run` and `herald watch` in PostgreSQL mode; nil when embedded, where the workspace
    /// lock is enough). Throws `WorkerNameTaken` when another running process holds the name.
    public static func holdWorkerName(_ workspace: Workspace, stores: Stores) throws -> (any WorkerNameHold)? {
        guard let postgres = stores.postgres else { return nil }
        return try PostgresWorkerLock.take(workspace.configuration.worker.resolvedName, in: postgres.pool)
    }

    /// Who holds this workspace's worker name in the shared store, or nil (free, or embedded).
    public static func workerNameHolder(_ workspace: Workspace) throws -> String? {
        guard workspace.configuration.store.isShared else { return nil }
        let stores = try Stores(workspace)
        guard let postgres = stores.postgres else { return nil }
        defer { postgres.pool.close() }
        return try PostgresWorkerLock.holder(of: workspace.configuration.worker.resolvedName, in: postgres.pool)
    }

    /// Refreshes `reports/metrics.prom`; a failure is returned as a sentence, not thrown (metrics
    /// must never fail a run).
    @discardableResult
    public static func refreshMetrics(_ workspace: Workspace, lastRun: Date?) -> String? {
        do {
            try MetricsFile.update(root: workspace.root, timeZone: workspace.configuration.timeZone, lastRun: lastRun)
            return nil
        } catch {
            return "reports/metrics.prom not updated: \(error)"
        }
    }
}

/// The workspace's stores could not be opened.
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public var message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
