import ArgumentParser
import Foundation
import HeraldChannels
import HeraldCore


extension Herald {
    struct ReceiptsCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "receipts",
            abstract: "Delivery receipts from SMS providers.",
            subcommands: [Ingest.self]
        )

        struct Ingest: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Apply a receipt file (Aliyun SmsReport or Tencent callback JSON) to the ledger and the log.",
                discussion: "Files dropped in recipients/inbox/receipts/<channel>/ are ingested by `herald run` the same way."
            )

            @OptionGroup var options: WorkspaceOptions

            @Argument(help: "The receipt file.")
            var file: String

            @Option(help: "The SMS channel the receipts are for.")
            var channel: String

            @Option(help: "The format, when the channel's transport does not say it (aliyun or tencent).")
            var format: String?

            func validate() throws {
                if let format, ProviderReceipts.parser(named: format) == nil {
                    throw ValidationError("--format is aliyun or tencent, not '\(format)'")
                }
            }

            func run() async throws {
                let workspace = try options.open(secretsOptional: true)
                let context = try await openRun(workspace)
                let files = ReceiptFiles(root: workspace.root, configuration: workspace.configuration, parsers: ProviderReceipts.parsers)
                do {
                    let report = try await files.ingest(URL(fileURLWithPath: file), channel: channel,
                                                  with: ReceiptIngest(ledger: context.ledger, log: context.log),
                                                  format: format.flatMap(ProviderReceipts.parser(named:)), move: false)
                    print("\(report.delivered) delivered, \(report.undelivered) undelivered, \(report.duplicates) duplicate, \(report.unmatched.count) unmatched")
                    updateMetrics(workspace, lastRun: nil)
                    if !report.unmatched.isEmpty {
                        print("unmatched receipts kept in recipients/unmatched-receipts/\(channel)/")
                        throw ExitCode(1)
                    }
                } catch let rejection as BatchRejection {
                    printError("herald receipts: \(file): \(rejection)")
                    throw ExitCode(2)
                }
            }
        }
    }
}
