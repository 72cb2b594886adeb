import ArgumentParser
import Foundation
import HeraldCore
import HeraldRuntime

extension Herald {
    struct TraceCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "trace",
            abstract: "Everything that happened to one message, or to every message of a recipient, in time order.",
            discussion: """
            From the log (rows received, every attempt with the provider's reply, receipts, bounces, \
            escalations, digests), the ledger (the status now), the 站内信 inbox (when it was read) and \
            the spool (waiting or dead). Lines are found through the index beside the log \
            (outbox/log/.index/), not by reading every line. Exit 1 when nothing is found.
            """
        )

        @OptionGroup var options: WorkspaceOptions

        @Argument(help: "A message id (the log's message_id).")
        var id: String?

        @Option(help: "Every message to this address: email, mobile, openid, or a user id for 站内信.")
        var to: String?

        @Option(help: "Every message of rows whose user_id is this.")
        var user: String?

        @Option(help: "Only log days from this one on: YYYY-MM-DD, today or yesterday.")
        var since: String?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        @Option(help: "Read this log folder instead of outbox/log/; repeat it for several workers' logs.")
        var logs: [String] = []

        func validate() throws {
            if [id, to, user].compactMap({ $0 }).count != 1 {
                throw ValidationError("give one of: a message id, --to ADDRESS or --user ID")
            }
            if let since, since != "today", since != "yesterday", Timestamp.parse("\(since)T00:00:00Z") == nil {
                throw ValidationError("--since is a day (YYYY-MM-DD), today or yesterday, not '\(since)'")
            }
        }

        func run() async throws {
            let workspace = try options.open(secretsOptional: true)
            let zone = workspace.configuration.timeZone
            let query: TraceIndex.Query = id.map { .message($0) } ?? to.map { .address($0) } ?? .user(user ?? "")
            let first: String? = switch since {
            case "today": Timestamp.day(Date(), timeZone: zone)
            case "yesterday": Timestamp.day(Date().addingTimeInterval(-86_400), timeZone: zone)
            default: since
            }
            let folders = logs.isEmpty ? [workspace.paths.logs]
                : logs.map { URL(fileURLWithPath: $0, relativeTo: workspace.root).standardizedFileURL }
            var lines: [TraceIndex.Line] = []
            do {
                for folder in folders {
                    let (found, warnings) = try TraceIndex(logDirectory: folder).search(query, since: first)
                    lines += found
                    // What the index could not answer is said, so "nothing found" is never a silent guess.
                    for warning in warnings { printError("herald trace: \(warning)") }
                }
            } catch {
                printError("herald trace: cannot read the log index: \(error)")
                throw ExitCode(2)
            }
            let stores: WorkspaceWiring.Stores
            do {
                stores = try WorkspaceWiring.Stores(workspace)
            } catch {
                printError("herald trace: \(error)")
                throw ExitCode(2)
            }
            let messages = try await Trace.assemble(lines, ledger: stores.ledger, inbox: stores.inbox, spool: stores.spool)
            if json {
                let data = try JSONSerialization.data(withJSONObject: ["messages": messages.map { $0.json(timeZone: zone) }],
                                                      options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else if messages.isEmpty {
                print("nothing found")
            } else {
                for message in messages { print(message.text(timeZone: zone)) }
            }
            if messages.isEmpty { throw ExitCode(1) }
        }
    }
}
