import Foundation
import HeraldCore

/// `herald watch`: every interval, while no other run holds the workspace, does what
/// `herald run` does; stops between chunks when asked. Metrics are refreshed after a cycle that
/// did something, and at least every `metricsCadence` otherwise (for the spool gauge and the
/// last-run time), not fsynced every second.
///
/// ```swift
/// let watcher = Watcher(workspace: workspace, interval: .seconds(1))
/// try await watcher.run(stop: { flag.isSet }, report: { summary in print(summary.table()) }, warn: { print($0) })
/// ```
public struct Watcher: Sendable {
    /// The workspace watched.
    public var workspace: Workspace
    /// Time between cycles.
    public var interval: Duration
    /// Longest time between two metrics refreshes while idle.
    public var metricsCadence: TimeInterval = 15

    /// Creates a watcher.
    public init(workspace: Workspace, interval: Duration) {
        self.workspace = workspace
        self.interval = interval
    }

    /// Whether a cycle's summary shows it did something (then it is reported and metrics refreshed).
    public static func isBusy(_ summary: RunSummary) -> Bool {
        !summary.counts.isEmpty || !summary.rejectedFiles.isEmpty || !summary.interruptedFiles.isEmpty
            || summary.spooledRetried > 0 || !summary.notes.isEmpty
    }

    /// Runs cycles until `stop` says so. `report` gets each busy cycle's summary; `warn` gets
    /// problems that do not stop the watch (a cycle that failed, metrics not written). Opening
    /// the workspace's stores failing (a lost ledger) ends the watch by throwing.
    public func run(stop: @escaping @Sendable () -> Bool, report: (RunSummary) -> Void, warn: (String) -> Void) async throws {
        var metricsWritten = Date.distantPast
        // PostgreSQL stores (a pool of connections) stay open across cycles; the SQLite file is
        // opened per cycle, as `herald run` opens it.
        let shared = workspace.configuration.store.isShared ? try WorkspaceWiring.Stores(workspace) : nil
        // The worker's name is this process's while it watches: what an earlier process of it left
        // leased comes back at once, and a second process under the name is refused.
        var name = try shared.flatMap { try WorkspaceWiring.holdWorkerName(workspace, stores: $0) }
        defer { withExtendedLifetime(name) {} }
        // The last problem said, so a database that stays away is reported once, not every cycle.
        var lastProblem: String?
        func problem(_ text: String) {
            if text != lastProblem { warn(text) }
            lastProblem = text
        }
        // Woken by the file system where it can (a file renamed into the drop folder is taken at
        // once, without the settle time); polled every interval otherwise.
        let dropFolder = workspace.paths.dropFolder
        try? FileManager.default.createDirectory(at: dropFolder, withIntermediateDirectories: true)
        let events = FolderEvents(folder: dropFolder)
        var arrived: Set<String> = []
        // While a file written in place settles, look again soon rather than a whole interval later.
        var settling = false
        while !stop() {
            if let lock = try? RunLock(root: workspace.root) {
                let context: RunContext
                do {
                    // A name whose lock went with a dropped connection is taken again before any
                    // work; until it is (the old session may linger on the server a while, or another
                    // process took the name), nothing is drained and the problem is said once.
                    if let shared, name?.isHeld != true {
                        name = nil
                        name = try WorkspaceWiring.holdWorkerName(workspace, stores: shared)
                    }
                    context = try await WorkspaceWiring.open(workspace, stores: shared, warn: warn)
                } catch let error where shared != nil && !(error is LedgerLost) {
                    // A shared database that went away is waited for; a lost ledger still ends the watch.
                    problem("herald watch: \(error); trying again every \(interval)")
                    withExtendedLifetime(lock) {}
                    try? await Task.sleep(for: interval)
                    continue
                }
                let cycle = DropFolderRun(context, shouldStop: stop, arrivedComplete: arrived)
                arrived = []
                var busy = true
                do {
                    let summary = try await cycle.run()
                    settling = !summary.settlingFiles.isEmpty
                    busy = Self.isBusy(summary)
                    if busy { report(summary) }
                    if lastProblem != nil { warn("herald watch: working again") }
                    lastProblem = nil
                } catch {
                    problem("herald watch: \(error)")
                }
                if busy || Date().timeIntervalSince(metricsWritten) >= metricsCadence {
                    if let problem = WorkspaceWiring.refreshMetrics(workspace, lastRun: Date()) { warn("herald: \(problem)") }
                    metricsWritten = Date()
                }
                withExtendedLifetime(lock) {}
            }
            if let events {
                arrived.formUnion(events.wait(upTo: settling ? min(interval, .milliseconds(250)) : interval, stop: stop).renamed)
                continue
            }
            var waited = Duration.zero
            while waited < interval && !stop() {
                try? await Task.sleep(for: .milliseconds(100))
                waited += .milliseconds(100)
            }
        }
    }
}
