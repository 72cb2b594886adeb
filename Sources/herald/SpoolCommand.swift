import ArgumentParser
import Foundation
import HeraldCore
import HeraldRuntime

extension Herald {
    struct SpoolCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "spool",
            abstract: "Inspect and requeue deferred and dead messages.",
            subcommands: [List.self, Retry.self, Purge.self]
        )

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List waiting (or dead) messages, next due first.")

            @OptionGroup var options: WorkspaceOptions

            @Flag(help: "List spool/dead/ instead.")
            var dead = false

            func run() async throws {
                let workspace = try options.open(secretsOptional: true)
                let spool = try openStores(workspace).spool
                let zone = workspace.configuration.timeZone
                let masking = workspace.configuration.recipientMasking
                let entries = try await spool.entries(dead: dead)
                for entry in entries {
                    let when = Timestamp.iso8601(entry.nextAttempt, timeZone: zone)
                    print("\(entry.id)  \(entry.channel.rawValue)/\(entry.account)  \(masking.apply(entry.address, channel: entry.channel))  "
                          + "\(entry.message.template)  attempts \(entry.attempts)  \(dead ? "died" : "next") \(when)  "
                          + (entry.kind == .scheduled ? "scheduled (send_at)" : entry.kind == .escalation ? "escalation"
                             : "\(entry.lastErrorCode ?? ""): \(entry.lastError ?? "")"))
                }
                print("\(entries.count) \(dead ? "dead" : "waiting") message\(entries.count == 1 ? "" : "s")")
            }
        }

        struct Retry: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Move dead messages back into the spool, due now.")

            @OptionGroup var options: WorkspaceOptions

            @Argument(help: "Message ids to bring back.")
            var ids: [String] = []

            @Flag(help: "Bring back every dead message.")
            var allDead = false

            func validate() throws {
                if ids.isEmpty != allDead { throw ValidationError("give message ids or --all-dead") }
            }

            func run() async throws {
                let workspace = try options.open(secretsOptional: true)
                let revived = try await openStores(workspace).spool.revive(allDead ? nil : ids, now: Date())
                if !allDead {
                    let missing = Set(ids).subtracting(revived.map(\.id))
                    for id in missing.sorted() { printError("herald spool retry: no dead message \(id)") }
                    if !missing.isEmpty { throw ExitCode(1) }
                }
                print("\(revived.count) message\(revived.count == 1 ? "" : "s") back in the spool; the next `herald run` sends them")
            }
        }

        struct Purge: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete dead messages older than a duration.")

            @OptionGroup var options: WorkspaceOptions

            @Flag(help: "Purge spool/dead/ (the only thing purge touches).")
            var dead = false

            @Option(help: "Only messages that died longer ago than this, e.g. 30d.")
            var olderThan: String

            func validate() throws {
                guard dead else { throw ValidationError("purge only removes dead messages: pass --dead") }
                guard DurationText.parse(olderThan) != nil else { throw ValidationError("--older-than takes a duration like 30d") }
            }

            func run() async throws {
                let workspace = try options.open(secretsOptional: true)
                let age = DurationText.parse(olderThan) ?? .seconds(0)
                let count = try await openStores(workspace).spool.purgeDead(diedBefore: Date().addingTimeInterval(-age.seconds))
                print("purged \(count) dead message\(count == 1 ? "" : "s")")
            }
        }
    }
}
