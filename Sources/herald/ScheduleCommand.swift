import ArgumentParser
import Foundation
import HeraldCore
import HeraldRuntime

extension Herald {
    struct ScheduleCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "schedule",
            abstract: "Messages waiting for their send_at (and held-back escalations): list or cancel them.",
            subcommands: [List.self, Cancel.self]
        )

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List scheduled messages, next due first.")

            @OptionGroup var options: WorkspaceOptions

            @Option(help: ArgumentHelp("Only this batch: its file name or its batch id.", valueName: "FILE|ID"))
            var batch: String?

            @Flag(help: "Machine-readable JSON output.")
            var json = false

            func run() async throws {
                let workspace = try options.open(secretsOptional: true)
                let stores = try openStores(workspace)
                let masking = workspace.configuration.recipientMasking
                let zone = workspace.configuration.timeZone
                let waiting = try await Schedule(spool: stores.spool, ledger: stores.ledger, log: MemoryEventLog()).waiting(batch: batch)
                if json {
                    let items = waiting.map { entry in
                        ["message_id": entry.id, "batch": entry.batch, "file": entry.file, "row": String(entry.row),
                         "channel": entry.channel.rawValue, "recipient": masking.apply(entry.address, channel: entry.channel),
                         "template": entry.message.template, "kind": (entry.kind ?? .retry).rawValue,
                         "send_at": Timestamp.iso8601(entry.nextAttempt, timeZone: zone)]
                    }
                    let data = try JSONSerialization.data(withJSONObject: items, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                    print(String(decoding: data, as: UTF8.self))
                    return
                }
                for entry in waiting {
                    let kind = entry.kind == .escalation ? "escalation unless \(entry.escalation?.unless.rawValue ?? "?")" : "scheduled"
                    print("\(entry.id)  \(Timestamp.iso8601(entry.nextAttempt, timeZone: zone))  \(entry.channel.rawValue)/\(entry.account)  "
                          + "\(masking.apply(entry.address, channel: entry.channel))  \(entry.message.template)  \(entry.file) row \(entry.row)  \(kind)")
                }
                print("\(waiting.count) scheduled message\(waiting.count == 1 ? "" : "s")")
            }
        }

        struct Cancel: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Cancel scheduled messages: they get status cancelled and are never sent.",
                discussion: "A message already being sent (its time came) cannot be cancelled."
            )

            @OptionGroup var options: WorkspaceOptions

            @Option(help: ArgumentHelp("Every scheduled message of this batch: its file name or its batch id.", valueName: "FILE|ID"))
            var batch: String?

            @Option(help: ArgumentHelp("One scheduled message, by its id.", valueName: "ID"))
            var message: String?

            func validate() throws {
                if (batch == nil) == (message == nil) { throw ValidationError("give --batch FILE|ID or --message ID") }
            }

            func run() async throws {
                let workspace = try options.open(secretsOptional: true)
                // Not while a run of this workspace is sending (it could be taking the same messages).
                var lock: RunLock?
                for _ in 0..<50 {
                    lock = try? RunLock(root: workspace.root)
                    if lock != nil { break }
                    try await Task.sleep(for: .milliseconds(200))
                }
                guard let lock else {
                    printError("herald schedule cancel: another herald run holds the workspace; try again")
                    throw ExitCode(2)
                }
                let stores = try openStores(workspace)
                let configuration = workspace.configuration
                let log = try JSONLinesLog(directory: workspace.paths.logs, timeZone: configuration.timeZone,
                                           worker: stores.isShared ? configuration.worker.resolvedName : nil)
                let schedule = Schedule(spool: stores.spool, ledger: stores.ledger, log: log, masking: configuration.recipientMasking)
                let cancelled = try await schedule.cancel(batch: batch, message: message)
                withExtendedLifetime(lock) {}
                guard !cancelled.isEmpty else {
                    printError("herald schedule cancel: no scheduled message \(message.map { "with id \($0)" } ?? "of batch \(batch ?? "")")")
                    throw ExitCode(1)
                }
                print("cancelled \(cancelled.count) scheduled message\(cancelled.count == 1 ? "" : "s"); they will not be sent")
            }
        }
    }
}
