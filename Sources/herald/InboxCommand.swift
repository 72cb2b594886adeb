import ArgumentParser
import Foundation
import HeraldCore
import HeraldInbox
import HeraldRuntime

/// Options of every inbox command.
struct InboxOptions: ParsableArguments {
    @OptionGroup var workspace: WorkspaceOptions

    @Option(help: "The user.")
    var user: String

    @Option(help: "The tenant (default 0).")
    var tenant: String = "0"

    @Flag(help: "Machine-readable JSON output.")
    var json = false

    func store() throws -> any InboxStore {
        try openStores(self.workspace.open(secretsOptional: true)).inbox
    }
}

/// Prints `value` as JSON (dates ISO 8601, keys snake_case).
func printJSON<T: Encodable>(_ value: T) throws {
    print(String(decoding: try JSONEncoder.inbox(pretty: true).encode(value), as: UTF8.self))
}

/// Runs an inbox change, turning an ownership error into exit 1 with its message.
func changing(_ work: () async throws -> Int, json: Bool, verb: String) async throws {
    do {
        let changed = try await work()
        if json { try printJSON(["changed": changed]) } else { print("\(verb) \(changed)") }
    } catch let error as InboxError {
        printError("herald inbox: \(error)")
        throw ExitCode(1)
    }
}

extension Herald {
    struct InboxCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inbox",
            abstract: "A user's 站内信: list, read, read-all, unread-count, archive, delete.",
            subcommands: [List.self, Read.self, ReadAll.self, UnreadCount.self, Archive.self, Delete.self]
        )

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Messages and active announcements, newest first.")
            @OptionGroup var options: InboxOptions
            @Flag(help: "Unread only.") var unread = false
            @Option(help: "Page, from 1.") var page = 1
            @Option(help: "Items per page.") var size = 20

            func validate() throws {
                guard page >= 1, (1...500).contains(size) else { throw ValidationError("--page from 1, --size from 1 to 500") }
            }

            func run() async throws {
                let store = try options.store()
                let result = try await store.list(tenant: options.tenant, user: options.user, unreadOnly: unread, page: page, size: size, now: Date())
                if options.json { return try printJSON(result) }
                let zone = (try? options.workspace.open(secretsOptional: true).configuration.timeZone) ?? .current
                for item in result.items {
                    let when = Timestamp.iso8601(item.createdAt, timeZone: zone).prefix(19).replacingOccurrences(of: "T", with: " ")
                    let from = item.kind == "announcement" ? "【公告】\(item.title ?? "")" : (item.nickname ?? item.template ?? "")
                    print("\(item.read ? " " : "●") \(item.id)  \(when)  \(from)  \(item.content)")
                }
                let pages = max(1, (result.total + size - 1) / size)
                print("page \(page) of \(pages), \(result.total) in all")
            }
        }

        struct Read: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Mark the user's messages or announcements read.")
            @OptionGroup var options: InboxOptions
            @Argument(help: "Ids as listed (123, or n7 for an announcement).") var ids: [String]

            func run() async throws {
                let store = try options.store()
                try await changing({ try await store.markRead(tenant: options.tenant, user: options.user, ids: ids, now: Date()) },
                             json: options.json, verb: "marked read:")
            }
        }

        struct ReadAll: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "read-all", abstract: "Mark everything of the user read.")
            @OptionGroup var options: InboxOptions

            func run() async throws {
                let store = try options.store()
                try await changing({ try await store.markAllRead(tenant: options.tenant, user: options.user, now: Date()) },
                             json: options.json, verb: "marked read:")
            }
        }

        struct UnreadCount: AsyncParsableCommand {
            static let configuration = CommandConfiguration(commandName: "unread-count",
                                                            abstract: "Unread messages plus unread active announcements.")
            @OptionGroup var options: InboxOptions

            func run() async throws {
                let store = try options.store()
                let count = try await store.unreadCount(tenant: options.tenant, user: options.user, now: Date())
                if options.json { try printJSON(["unread": count]) } else { print(count) }
            }
        }

        struct Archive: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Archive the user's messages (kept, hidden from the list).")
            @OptionGroup var options: InboxOptions
            @Argument(help: "Message ids.") var ids: [String]

            func run() async throws {
                let store = try options.store()
                try await changing({ try await store.archive(tenant: options.tenant, user: options.user, ids: ids) }, json: options.json, verb: "archived:")
            }
        }

        struct Delete: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete the user's messages (soft: the row stays, hidden).")
            @OptionGroup var options: InboxOptions
            @Argument(help: "Message ids.") var ids: [String]

            func run() async throws {
                let store = try options.store()
                try await changing({ try await store.delete(tenant: options.tenant, user: options.user, ids: ids) }, json: options.json, verb: "deleted:")
            }
        }
    }

    struct NoticeCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "notice",
            abstract: "Announcements (系统公告): publish, list, retract. Stored once per tenant.",
            subcommands: [Publish.self, List.self, Retract.self]
        )

        struct Publish: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Publish an announcement to every user of a tenant.")
            @OptionGroup var workspace: WorkspaceOptions
            @Option(help: "Title.") var title: String
            @Option(help: "Content.") var content: String
            @Option(help: "notice or announcement.") var type = "notice"
            @Option(help: "Tenant (default 0).") var tenant = "0"
            @Option(help: "Shown from (ISO 8601, e.g. 2026-12-01T08:00:00+08:00).") var starts: String?
            @Option(help: "Shown until (ISO 8601).") var ends: String?
            @Flag(help: "JSON output.") var json = false

            func validate() throws {
                guard ["notice", "announcement"].contains(type) else { throw ValidationError("--type is notice or announcement") }
                for (name, value) in [("--starts", starts), ("--ends", ends)] where value != nil && NoticeFile.date(value) == nil {
                    throw ValidationError("\(name) takes an ISO 8601 time like 2026-12-01T08:00:00+08:00")
                }
                let window = Notice(title: title, content: content, startsAt: NoticeFile.date(starts), endsAt: NoticeFile.date(ends),
                                    createdAt: Date())
                if let problem = window.windowProblem { throw ValidationError(problem) }

            }

            func run() async throws {
                let store = try openStores(workspace.open(secretsOptional: true)).inbox
                let notice = try await store.publish(Notice(tenantID: tenant, title: title, content: content, type: type,
                                                      startsAt: NoticeFile.date(starts), endsAt: NoticeFile.date(ends), createdAt: Date()))
                if json { try printJSON(notice) } else { print("published announcement n\(notice.id) to tenant \(tenant)") }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List announcements.")
            @OptionGroup var workspace: WorkspaceOptions
            @Option(help: "Only this tenant.") var tenant: String?
            @Flag(help: "Include retracted ones.") var all = false
            @Flag(help: "JSON output.") var json = false

            func run() async throws {
                let loaded = try workspace.open(secretsOptional: true)
                let store = try openStores(loaded).inbox
                let notices = try await store.notices(tenant: tenant, includeRetracted: all)
                if json { return try printJSON(notices) }
                let zone = loaded.configuration.timeZone
                for notice in notices {
                    let window = [notice.startsAt, notice.endsAt].map { $0.map { Timestamp.iso8601($0, timeZone: zone) } ?? "…" }
                    let state = notice.retractedAt != nil ? "retracted" : notice.isActive(at: Date()) ? "active" : "scheduled/ended"
                    print("\(InboxItemID.notice(notice.id))  tenant \(notice.tenantID)  \(notice.type)  \(state)  \(window[0]) – \(window[1])  \(notice.title)：\(notice.content)")
                }
                print("\(notices.count) announcement\(notices.count == 1 ? "" : "s")")
            }
        }

        struct Retract: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Withdraw an announcement from every inbox.")
            @OptionGroup var workspace: WorkspaceOptions
            @Argument(help: "The announcement id (n7 or 7).") var id: String

            func run() async throws {
                let store = try openStores(workspace.open(secretsOptional: true)).inbox
                guard let number = InboxItemID(id)?.number else {
                    throw ValidationError("give an announcement id like n7")
                }
                do {
                    try await store.retract(number, now: Date())
                } catch let error as InboxError {
                    printError("herald notice: \(error)")
                    throw ExitCode(1)
                }
                print("retracted n\(number)")
            }
        }
    }
}
