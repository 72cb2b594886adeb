import ArgumentParser
import Foundation
import HeraldChannels
import HeraldCore

extension Herald {
    struct BouncesCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bounces",
            abstract: "Bounce (RFC 3464) and complaint (RFC 5965) messages for mail Herald sent.",
            subcommands: [Ingest.self]
        )

        struct Ingest: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Apply bounce and complaint messages to the ledger, the log and the suppression list.",
                discussion: """
                PATH is an .eml file, an mbox file or a Maildir. Hard bounces make the message undelivered \
                and suppress the address (reason bounce); complaints opt the address out of marketing mail; \
                soft bounces are counted. Messages that are no report, or name no message, are kept in \
                recipients/unmatched-bounces/ (exit 1). Files dropped in recipients/inbox/bounces/ are \
                ingested by `herald run` and `herald watch` the same way, and moved to recipients/processed/bounces/.
                """
            )

            @OptionGroup var options: WorkspaceOptions

            @Argument(help: "An .eml file, an mbox file or a Maildir folder.")
            var path: String

            func run() async throws {
                let workspace = try options.open(secretsOptional: true)
                let context = try await openRun(workspace)
                do {
                    let summary = try await BounceFiles(root: workspace.root, parser: DeliveryReportParser())
                        .ingest(URL(fileURLWithPath: path), with: Intake(context).bounceIngest(), move: false)
                    print(summary.description)
                    updateMetrics(workspace, lastRun: nil)
                    if summary.unmatched > 0 {
                        for reason in summary.unmatchedReasons { print("kept aside: \(reason)") }
                        print("\(summary.unmatched) message(s) kept in recipients/unmatched-bounces/")
                        throw ExitCode(1)
                    }
                } catch let rejection as BatchRejection {
                    printError("herald bounces: \(path): \(rejection)")
                    throw ExitCode(2)
                }
            }
        }
    }
}
