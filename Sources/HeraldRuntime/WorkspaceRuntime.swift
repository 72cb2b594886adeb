import Foundation
import HeraldChannels
import HeraldCore
import HeraldInbox
import HeraldReports

/// Wires a workspace to its stores and transports: the one place that knows which concrete
/// ledger, log, transports, preferences and 站内信 store a run uses. Commands call it and print.
///
/// ```swift
/// let run = try WorkspaceRuntime.open(workspace) { warning in print(warning) }
/// let summary = try await run.runDropFolder()
/// ```
public enum WorkspaceRuntime {
    /// How long per-recipient cap counters are kept (the longest cap window is a day).
    public static let counterRetention: TimeInterval = 8 * 86_400

    /// The run of `workspace`: the SQLite ledger (refused when it lost what the logs know), the
    /// JSON-lines log, the transports of herald.yaml, preferences and suppressions, and the
    /// notice publisher. Problems in the preference files go to `warn`.
    public static func open(_ workspace: Workspace, now: Date = Date(),
                            warn: (String) -> Void = { _ in }) throws -> WorkspaceRun {
        let paths = workspace.paths
        let stores = try Stores(paths)
        try LedgerHistory.check(stores.ledger, logDirectory: paths.logs)
        do {
            try stores.counters.pruneCounts(before: now.addingTimeInterval(-counterRetention))
            let log = try JSONLinesLog(directory: paths.logs, timeZone: workspace.configuration.timeZone)
            let transports = Transports.make(root: workspace.root, configuration: workspace.configuration, tokens: stores.tokens,
                                             inbox: InboxTransport())
            let (preferences, problems) = Preferences.load(root: workspace.root)
            for problem in problems { warn(problem.description) }
            var run = WorkspaceRun(workspace: workspace, transports: transports, ledger: stores.ledger, log: log,
                                   counters: stores.counters, preferences: preferences)
            run.siteMessages = stores.inbox
            run.receiptParsers = ProviderReceipts.parsers
            let inbox = stores.inbox
            run.noticePublisher = { url in
                let notice = try NoticeFile.publish(url, to: inbox, now: Date())
                return "published announcement n\(notice.id) to tenant \(notice.tenantID)"
            }
            return run
        } catch {
            throw RuntimeError("cannot open outbox/: \(error)")
        }
    }

    /// Every store of a workspace over its one database (`outbox/herald.sqlite`), each with its
    /// own tables and migrations.
    public struct Stores: Sendable {
        /// The ledger (Core).
        public let ledger: SQLiteLedger
        /// Per-recipient cap counters (Core).
        public let counters: SQLiteRecipientCounters
        /// WeChat access tokens (Core).
        public let tokens: SQLiteAccessTokenStore
        /// 站内信 and 系统公告 (HeraldInbox).
        public let inbox: SQLiteInboxStore

        /// Opens the workspace database and every store in it.
        public init(_ paths: WorkspacePaths) throws {
            do {
                let database = try WorkspaceDatabase(url: paths.database)
                ledger = try SQLiteLedger(database: database)
                counters = try SQLiteRecipientCounters(database: database)
                tokens = try SQLiteAccessTokenStore(database: database)
                inbox = try SQLiteInboxStore(database: database)
            } catch {
                throw RuntimeError("cannot open outbox/herald.sqlite: \(error)")
            }
        }
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
