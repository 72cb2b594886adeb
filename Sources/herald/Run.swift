import ArgumentParser
import Foundation
import Synchronization
import HeraldCore
import HeraldReports
import HeraldRuntime

extension Herald {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send every complete batch in recipients/inbox/.",
            discussion: """
                Each file is read row by row through load → validate → render → rate-limit → send → record, \
                then moved to recipients/processed/ (or recipients/rejected/ with NAME.error.txt when it cannot be read). \
                Exit 0 when everything was sent, 1 when a row failed or was invalid or a file was rejected, 2 on a usage or configuration error.
                """
        )

        @OptionGroup var options: WorkspaceOptions

        @Flag(help: "Validate and render every row; send nothing, record nothing, move no file.")
        var dryRun = false

        @Option(help: ArgumentHelp("Take files unmodified for this long (overrides inbox.settle), e.g. 0s.", valueName: "DURATION"))
        var settle: String?

        func validate() throws {
            if let settle, DurationText.parse(settle) == nil {
                throw ValidationError("--settle takes a duration like 0s, 2s or 1m (at most 3650d), got '\(settle)'")
            }
        }

        func run() async throws {
            var workspace = try options.open()
            if let settle, let duration = DurationText.parse(settle) { workspace.configuration.settle = duration }
            let lock = try lockWorkspace(workspace, command: "herald run")
            let (context, name) = try await openWorkerRun(workspace)
            let progress = ProgressPrinter()
            let summary: RunSummary
            do {
                summary = try await DropFolderRun(context).run(dryRun: dryRun) { progress.update($0) }
            } catch {
                progress.finish()
                printError("herald run: stopped: \(error)")
                throw ExitCode(1)
            }
            progress.finish()
            if !dryRun { updateMetrics(workspace, lastRun: Date()) }
            withExtendedLifetime((lock, name)) {}
            report(summary, dryRun: dryRun)
            if summary.hasFailures { throw ExitCode(1) }
        }
    }
}

/// The workspace's run context (`WorkspaceWiring.open`), or its problem printed and exit 2.
func openRun(_ workspace: Workspace) async throws -> RunContext {
    do {
        return try await WorkspaceWiring.open(workspace, warn: printError)
    } catch {
        printError("herald: \(error)")
        throw ExitCode(2)
    }
}

/// The run context of a command that drains the shared queue (`herald run`), holding the worker's name
/// in the shared store while the returned lock lives; its problem printed and exit 2.
func openWorkerRun(_ workspace: Workspace) async throws -> (RunContext, (any WorkerNameHold)?) {
    do {
        let stores = try WorkspaceWiring.Stores(workspace)
        let name = try WorkspaceWiring.holdWorkerName(workspace, stores: stores)
        return (try await WorkspaceWiring.open(workspace, stores: stores, warn: printError), name)
    } catch {
        printError("herald: \(error)")
        throw ExitCode(2)
    }
}

/// Prints what happened to each file, then the table of counts.
func report(_ summary: RunSummary, dryRun: Bool) {
    if summary.recovered > 0 || summary.inFlightAtCrash > 0 {
        print("recovered \(summary.recovered) sends from the journal of an interrupted run; \(summary.inFlightAtCrash) messages were in flight and may be sent again")
    }
    if summary.recoveredShared > 0 {
        print("recorded \(summary.recoveredShared) sends of a worker that stopped holding its chunk (from the shared store); they were not sent again")
    }
    if summary.spooledRetried > 0 {
        print("spool: \(summary.spooledRetried) due message\(summary.spooledRetried == 1 ? "" : "s") tried again")
    }
    for name in summary.interruptedFiles {
        print("\(name): stopped part-way; left in the inbox to resume (sent rows will not be sent again)")
    }
    for (key, reason) in summary.pausedTransports.sorted(by: { $0.key < $1.key }) {
        print("paused \(key): \(reason)")
    }
    for note in summary.notes { print(note) }
    for name in summary.processedFiles {
        print(dryRun ? "\(name): checked (dry run; not moved)" : "\(name): done → recipients/processed/")
    }
    for (name, reason) in summary.rejectedFiles {
        let explanation = summary.rejectedExplanations[name] ?? "recipients/rejected/\(name).error.txt"
        print(dryRun ? "\(name): would be rejected: \(reason)" : "\(name): rejected → \(explanation): \(reason)")
    }
    for name in summary.settlingFiles {
        print("\(name): still being written; left for the next run")
    }
    if summary.counts.isEmpty {
        if summary.processedFiles.isEmpty && summary.rejectedFiles.isEmpty && summary.settlingFiles.isEmpty
            && summary.spooledRetried == 0 && summary.interruptedFiles.isEmpty && summary.notes.isEmpty {
            print("no batches in recipients/inbox/")
        }
        return
    }
    print("")
    print(summary.table())
}

/// A progress bar on a terminal; a plain line every few seconds otherwise.
final class ProgressPrinter: Sendable {
    private struct Drawing {
        var lastPrint = Date()
        var drawn = false
    }

    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let drawing = Mutex(Drawing())

    func update(_ progress: BatchProgress) {
        drawing.withLock { drawing in
            let now = Date()
            let interval = isTerminal ? 0.1 : 5
            guard now.timeIntervalSince(drawing.lastPrint) >= interval else { return }
            drawing.lastPrint = now
            let percent = Int(progress.fraction * 100)
            if isTerminal {
                let filled = Int(progress.fraction * 30)
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: 30 - filled)
                Console.write("\r\(bar) \(percent)%  \(progress.rows) rows  \(progress.file)\u{1B}[K", to: .standardError)
                drawing.drawn = true
            } else {
                Console.write("\(progress.file): \(progress.rows) rows (\(percent)%)\n", to: .standardError)
            }
        }
    }

    func finish() {
        drawing.withLock { drawing in
            if drawing.drawn { Console.write("\r\u{1B}[K", to: .standardError) }
            drawing.drawn = false
        }
    }
}
