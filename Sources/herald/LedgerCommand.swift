import ArgumentParser
import Foundation
import HeraldCore
import HeraldRuntime

extension Herald {
    struct LedgerCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ledger",
            abstract: "The ledger in outbox/herald.sqlite: rebuild it from outbox/log/ after it was lost.",
            subcommands: [Rebuild.self]
        )

        struct Rebuild: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Record every message of outbox/log/*.jsonl in the ledger (last status wins), so nothing logged is sent again.",
                discussion: "`herald run` refuses to send while the ledger is empty and the logs are not; this is the way out."
            )

            @OptionGroup var options: WorkspaceOptions

            func run() async throws {
                let workspace = try options.open(secretsOptional: true)
                let lock = try lockWorkspace(workspace, command: "herald ledger rebuild")
                let ledger = try openStores(workspace).ledger
                let report = try await LedgerHistory.rebuild(ledger, logDirectory: workspace.paths.logs, now: Date())
                withExtendedLifetime(lock) {}
                for line in report.unreadable.prefix(20) { printError("\(line) (passed over)") }
                print("rebuilt the ledger from \(report.lines) log lines in \(report.files) file\(report.files == 1 ? "" : "s"): "
                      + "\(report.messages) messages recorded, \(report.unreadable.count) unreadable lines passed over")
            }
        }
    }
}
