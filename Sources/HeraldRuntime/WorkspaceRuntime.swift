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
        let ledger: SQLiteLedger
        do {
            ledger = try SQLiteLedger(url: paths.database)
        } catch {
            throw RuntimeError("cannot open outbox/herald.sqlite: \(error)")
        }
        try LedgerHistory.check(ledger, logDirectory: paths.logs)
        do {
            try ledger.pruneCounts(before: now.addingTimeInterval(-counterRetention))
            let log = try JSONLinesLog(directory: paths.logs, timeZone: workspace.configuration.timeZone)
            let transports = Transports.make(root: workspace.root, configuration: workspace.configuration, tokens: ledger)
            let (preferences, problems) = Preferences.load(root: workspace.root)
            for problem in problems { warn(problem.description) }
            var run = WorkspaceRun(workspace: workspace, transports: transports, ledger: ledger, log: log,
                                   counters: ledger, preferences: preferences)
            let store = SQLiteInboxStore(ledger: ledger)
            run.noticePublisher = { url in
                let notice = try NoticeFile.publish(url, to: store, now: Date())
                return "published announcement n\(notice.id) to tenant \(notice.tenantID)"
            }
            return run
        } catch {
            throw RuntimeError("cannot open outbox/: \(error)")
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
