import ArgumentParser
import Foundation
import Synchronization
import HeraldCore
import HeraldRuntime

extension Herald {
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run continuously: send due retries and new batches as they arrive, until SIGTERM or SIGINT.",
            discussion: """
                Every watch.interval (default 1s) it does what `herald run` does. On SIGTERM or SIGINT it finishes \
                the chunk in hand, records it, and exits 0, leaving the rest of the file in the inbox to resume. \
                Two watchers on one workspace take turns (outbox/.lock), so nothing is claimed twice.
                """
        )

        @OptionGroup var options: WorkspaceOptions

        @Option(help: ArgumentHelp("Override watch.interval, e.g. 500ms.", valueName: "DURATION"))
        var interval: String?

        func validate() throws {
            if let interval, DurationText.parse(interval) == nil {
                throw ValidationError("--interval takes a duration like 500ms or 2s (at most 3650d), got '\(interval)'")
            }
        }


        func run() async throws {
            let workspace = try options.open()
            let pause = interval.flatMap(DurationText.parse) ?? workspace.configuration.watchInterval
            let stop = StopFlag()
            let sources = [SIGTERM, SIGINT].map { signalNumber -> DispatchSourceSignal in
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                source.setEventHandler {
                    printError("herald watch: stopping after the message in hand")
                    stop.set()
                }
                source.resume()
                return source
            }
            defer { sources.forEach { $0.cancel() } }
            print("herald watch: watching \(workspace.root.path) every \(pause)")
            do {
                try await Watcher(workspace: workspace, interval: pause)
                    .run(stop: { stop.isSet }, report: { report($0, dryRun: false) }, warn: printError)
            } catch {
                printError("herald watch: \(error)")
                throw ExitCode(2)
            }
            print("herald watch: stopped")
        }
    }
}

/// Set once by a signal handler, read by the run loop.
final class StopFlag: Sendable {
    private let value = Mutex(false)

    var isSet: Bool { value.withLock { $0 } }

    func set() {
        value.withLock { $0 = true }
    }
}
