import Foundation
import HeraldCore

/// One entry of a user's inbox: a 站内信 or an active announcement (系统公告).
public struct InboxItem: Sendable, Hashable, Codable {
    /// `123` for a message, `n7` for an announcement; what `read`, `archive` and `delete` take.
    public var id: String
    /// `message` or `announcement`.
    public var kind: String
    /// The announcement's title (nil for a message).
    public var title: String?
    /// The template of a message (nil for an announcement).
    public var template: String?
    /// The sender name shown.
    public var nickname: String?
    /// The text.
    public var content: String
    /// The template's type (`notification`, `promotion`) or the notice's (`notice`, `announcement`).
    public var type: String
    /// Whether the user read it.
    public var read: Bool
    /// When the user read it.
    public var readAt: Date?
    /// When it was created.
    public var createdAt: Date

    /// Creates an item.
    public init(id: String, kind: String, title: String? = nil, template: String? = nil, nickname: String? = nil, content: String,
                type: String, read: Bool, readAt: Date? = nil, createdAt: Date) {
        self.id = id
        self.kind = kind
        self.title = title
        self.template = template
        self.nickname = nickname
        self.content = content
        self.type = type
        self.read = read
        self.readAt = readAt
        self.createdAt = createdAt
    }
}

extension JSONEncoder {
    /// How inbox items, pages and counts are written as JSON, by `herald inbox --json` and by
    /// `herald serve`: snake_case keys in sorted order, ISO 8601 dates, slashes unescaped.
    public static func inbox(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

/// One page of a listing, newest first, with the total across pages.
public struct InboxPage: Sendable, Hashable, Codable {
    /// This page's items, newest first.
    public var items: [InboxItem]
    /// Items in all pages.
    public var total: Int
    /// The page number (1 = first).
    public var page: Int
    /// Items per page.
    public var size: Int

    /// Creates a page.
    public init(items: [InboxItem], total: Int, page: Int, size: Int) {
        self.items = items
        self.total = total
        self.page = page
        self.size = size
    }
}

/// A site-wide announcement (系统公告), stored once for a whole tenant.
public struct Notice: Sendable, Hashable, Codable {
    /// The announcement's id (`n<id>` in listings).
    public var id: Int64
    /// The tenant.
    public var tenantID: String
    /// The announcement's title (nil for a message).
    public var title: String
    /// The text.
    public var content: String
    /// `notice` or `announcement`.
    public var type: String
    /// Shown from (nil: at once).
    public var startsAt: Date?
    /// Shown until (nil: until retracted).
    public var endsAt: Date?
    /// When it was created.
    public var createdAt: Date
    /// When it was retracted, if it was.
    public var retractedAt: Date?

    /// Creates a notice (id 0 until published).
    public init(id: Int64 = 0, tenantID: String = "0", title: String, content: String, type: String = "notice",
                startsAt: Date? = nil, endsAt: Date? = nil, createdAt: Date, retractedAt: Date? = nil) {
        self.id = id
        self.tenantID = tenantID
        self.title = title
        self.content = content
        self.type = type
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.createdAt = createdAt
        self.retractedAt = retractedAt
    }

    /// Why the notice cannot be published (its window ends before it starts), or nil.
    public var windowProblem: String? {
        guard let startsAt, let endsAt, endsAt <= startsAt else { return nil }
        let zone = TimeZone(identifier: "UTC") ?? .current
        return "the announcement ends (\(Timestamp.iso8601(endsAt, timeZone: zone))) before it starts "
            + "(\(Timestamp.iso8601(startsAt, timeZone: zone))), so nobody would ever see it; fix starts or ends"
    }

    /// Whether users of its tenant see it at `now`.
    public func isActive(at now: Date) -> Bool {
        retractedAt == nil && (startsAt.map { $0 <= now } ?? true) && (endsAt.map { $0 > now } ?? true)
    }
}

/// Why an inbox operation changed nothing.
public struct InboxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    public var description: String { message }

    /// Creates an error.
    public init(message: String) {
        self.message = message
    }

    public static func notFound(_ id: String, user: String, tenant: String) -> InboxError {
        InboxError(message: "no message \(id) for user \(user) in tenant \(tenant); nothing was changed")
    }
}

/// One change of the inbox, in the order they happened (`id` grows), for live clients
/// (`GET /v1/users/{user}/events`): a new message for a user, a new announcement for a whole
/// tenant, or something that changes a user's unread count (reads on any device, archive,
/// delete, an announcement withdrawn).
public struct InboxEvent: Sendable, Hashable {
    /// What happened.
    public enum Kind: String, Sendable, Hashable {
        /// A 站内信 arrived (`item` is it, shaped like a list item).
        case message
        /// An announcement was published for the tenant (`item` is it).
        case notice
        /// Read state or visibility changed: the unread count may differ.
        case changed
    }

    /// Grows with every change; what `Last-Event-ID` resumes after.
    public var id: Int64
    /// The tenant.
    public var tenant: String
    /// The user, or nil for every user of the tenant.
    public var user: String?
    /// What happened.
    public var kind: Kind
    /// The message or announcement, for `message` and `notice`.
    public var item: InboxItem?

    /// Creates an event.
    public init(id: Int64, tenant: String, user: String?, kind: Kind, item: InboxItem?) {
        self.id = id
        self.tenant = tenant
        self.user = user
        self.kind = kind
        self.item = item
    }
}

/// The in-app inbox: site messages per user and announcements per tenant.
///
/// ```swift
/// let store = MemoryInboxStore()
/// try store.unreadCount(tenant: "0", user: "10001", now: Date())   // messages + active announcements unread
/// ```
public protocol InboxStore: Sendable {
    /// Adds delivered site messages (the pipeline stores them with its ledger instead).
    func deliver(_ messages: [SiteDelivery]) async throws
    /// Messages (not deleted or archived) and active announcements, newest first.
    func list(tenant: String, user: String, unreadOnly: Bool, page: Int, size: Int, now: Date) async throws -> InboxPage
    /// Unread messages plus unread active announcements.
    func unreadCount(tenant: String, user: String, now: Date) async throws -> Int
    /// Changes after `id`, oldest first, at most `limit`; only those for `tenant` and `user` (and
    /// the tenant's announcements) when given.
    func events(after id: Int64, tenant: String?, user: String?, limit: Int) async throws -> [InboxEvent]
    /// The id of the latest change (0 when there is none).
    func latestEventID() async throws -> Int64
    /// Marks the user's items read; an id that is not the user's is an error and nothing changes. Returns how many changed.
    func markRead(tenant: String, user: String, ids: [String], now: Date) async throws -> Int
    /// Marks every unread message and active announcement of the user read. Returns how many changed.
    func markAllRead(tenant: String, user: String, now: Date) async throws -> Int
    /// Archives the user's messages (hidden from the listing and the count, kept).
    func archive(tenant: String, user: String, ids: [String]) async throws -> Int
    /// Soft-deletes the user's messages.
    func delete(tenant: String, user: String, ids: [String]) async throws -> Int
    /// Stores an announcement once for its whole tenant.
    func publish(_ notice: Notice) async throws -> Notice
    /// Announcements of a tenant (all tenants when nil), newest first.
    func notices(tenant: String?, includeRetracted: Bool) async throws -> [Notice]
    /// Withdraws an announcement: it disappears from every inbox.
    func retract(_ id: Int64, now: Date) async throws
}
