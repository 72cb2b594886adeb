import Foundation
import HeraldCore

/// The in-memory twin of `SQLiteInboxStore`, with the same rules.
///
/// `@unchecked Sendable`: a test twin whose state is all behind one NSLock; its twenty methods read better than one Mutex closure each.
public final class MemoryInboxStore: InboxStore, SiteMessageStore, SiteMessageWriter, @unchecked Sendable {
    private struct Message {
        var id: Int64
        var delivery: SiteDelivery
        var readAt: Date?
        var archived = false
        var deleted = false
    }

    private let lock = NSLock()
    private var messages: [Message] = []
    private var stored: [Notice] = []
    private var reads: [Int64: [String: Date]] = [:]
    /// The change log, as the SQLite store's triggers keep it.
    private var log: [InboxEvent] = []

    /// Appends a change (under the lock).
    private func note(_ tenant: String, _ user: String?, _ kind: InboxEvent.Kind, _ item: InboxItem? = nil) {
        log.append(InboxEvent(id: Int64(log.count + 1), tenant: tenant, user: user, kind: kind, item: item))
    }

    public func events(after id: Int64, tenant: String?, user: String?, limit: Int) throws -> [InboxEvent] {
        lock.withLock {
            Array(log.filter { $0.id > id && (tenant == nil || $0.tenant == tenant) && (user == nil || $0.user == nil || $0.user == user) }
                .prefix(limit))
        }
    }

    public func latestEventID() throws -> Int64 {
        lock.withLock { Int64(log.count) }
    }

    /// Creates an empty store.
    public init() {}

    public func deliver(_ messages: [SiteDelivery], in transaction: MemoryTransaction) throws {
        try deliver(messages)
    }

    public func deliver(_ deliveries: [SiteDelivery]) throws {
        lock.withLock {
            for delivery in deliveries where !messages.contains(where: { $0.delivery.messageID == delivery.messageID }) {
                let id = Int64(messages.count + 1)
                messages.append(Message(id: id, delivery: delivery))
                note(delivery.tenantID, delivery.userID, .message,
                     InboxItem(id: String(id), kind: "message", template: delivery.template, nickname: delivery.nickname,
                               content: delivery.content, type: delivery.type, read: false, createdAt: delivery.createdAt))
            }
        }
    }

    private func visible(_ tenant: String, _ user: String) -> [Message] {
        messages.filter { $0.delivery.tenantID == tenant && $0.delivery.userID == user && !$0.deleted && !$0.archived }
    }

    private func active(_ tenant: String, _ now: Date) -> [Notice] {
        stored.filter { $0.tenantID == tenant && $0.isActive(at: now) }
    }

    public func readStates(of ids: [MessageID]) throws -> [MessageID: Bool] {
        let wanted = Set(ids)
        return lock.withLock {
            messages.reduce(into: [:]) { result, message in
                if wanted.contains(message.delivery.messageID) { result[message.delivery.messageID] = message.readAt != nil }
            }
        }
    }

    public func list(tenant: String, user: String, unreadOnly: Bool, page: Int, size: Int, now: Date) throws -> InboxPage {
        lock.withLock {
            var items = visible(tenant, user).map { message in
                InboxItem(id: String(message.id), kind: "message", template: message.delivery.template, nickname: message.delivery.nickname,
                          content: message.delivery.content, type: message.delivery.type, read: message.readAt != nil,
                          readAt: message.readAt, createdAt: message.delivery.createdAt)
            }
            items += active(tenant, now).map { notice in
                let readAt = reads[notice.id]?[user]
                return InboxItem(id: InboxItemID.notice(notice.id).description, kind: "announcement", title: notice.title, content: notice.content, type: notice.type,
                                 read: readAt != nil, readAt: readAt, createdAt: notice.startsAt ?? notice.createdAt)
            }
            if unreadOnly { items = items.filter { !$0.read } }
            items.sort { ($0.createdAt, $0.kind, Int64($0.id.filter(\.isNumber)) ?? 0) > ($1.createdAt, $1.kind, Int64($1.id.filter(\.isNumber)) ?? 0) }
            let start = min(items.count, max(0, (page - 1) * size))
            return InboxPage(items: Array(items[start..<min(items.count, start + size)]), total: items.count, page: page, size: size)
        }
    }

    public func unreadCount(tenant: String, user: String, now: Date) throws -> Int {
        lock.withLock {
            visible(tenant, user).filter { $0.readAt == nil }.count + active(tenant, now).filter { reads[$0.id]?[user] == nil }.count
        }
    }

    private func owned(_ ids: [String], tenant: String, user: String, now: Date, noticesAllowed: Bool) throws -> ([Int], [Int64]) {
        var messageIndexes: [Int] = []
        var noticeIDs: [Int64] = []
        for id in ids {
            let parsed = InboxItemID(id)
            if case let .notice(number)? = parsed, noticesAllowed, active(tenant, now).contains(where: { $0.id == number }) {
                noticeIDs.append(number)
            } else if case let .message(number)? = parsed, let index = messages.firstIndex(where: {
                $0.id == number && $0.delivery.tenantID == tenant && $0.delivery.userID == user && !$0.deleted
            }) {
                messageIndexes.append(index)
            } else {
                throw InboxError.notFound(id, user: user, tenant: tenant)
            }
        }
        return (messageIndexes, noticeIDs)
    }

    public func markRead(tenant: String, user: String, ids: [String], now: Date) throws -> Int {
        try lock.withLock {
            let (indexes, notices) = try owned(ids, tenant: tenant, user: user, now: now, noticesAllowed: true)
            var changed = 0
            for index in indexes where messages[index].readAt == nil {
                messages[index].readAt = now
                changed += 1
            }
            for notice in notices where reads[notice]?[user] == nil {
                reads[notice, default: [:]][user] = now
                changed += 1
            }
            if changed > 0 { note(tenant, user, .changed) }
            return changed
        }
    }

    public func markAllRead(tenant: String, user: String, now: Date) throws -> Int {
        lock.withLock {
            var changed = 0
            for index in messages.indices where messages[index].delivery.tenantID == tenant && messages[index].delivery.userID == user
                && !messages[index].deleted && messages[index].readAt == nil {
                messages[index].readAt = now
                changed += 1
            }
            for notice in active(tenant, now) where reads[notice.id]?[user] == nil {
                reads[notice.id, default: [:]][user] = now
                changed += 1
            }
            if changed > 0 { note(tenant, user, .changed) }
            return changed
        }
    }

    public func archive(tenant: String, user: String, ids: [String]) throws -> Int {
        try lock.withLock {
            let (indexes, _) = try owned(ids, tenant: tenant, user: user, now: Date(), noticesAllowed: false)
            indexes.forEach { messages[$0].archived = true }
            if !indexes.isEmpty { note(tenant, user, .changed) }
            return indexes.count
        }
    }

    public func delete(tenant: String, user: String, ids: [String]) throws -> Int {
        try lock.withLock {
            let (indexes, _) = try owned(ids, tenant: tenant, user: user, now: Date(), noticesAllowed: false)
            indexes.forEach { messages[$0].deleted = true }
            if !indexes.isEmpty { note(tenant, user, .changed) }
            return indexes.count
        }
    }

    public func publish(_ notice: Notice) throws -> Notice {
        if let problem = notice.windowProblem { throw InboxError(message: problem) }
        return lock.withLock {
            var published = notice
            published.id = Int64(stored.count + 1)
            stored.append(published)
            note(published.tenantID, nil, .notice,
                 InboxItem(id: InboxItemID.notice(published.id).description, kind: "announcement", title: published.title, content: published.content,
                           type: published.type, read: false, createdAt: published.startsAt ?? published.createdAt))
            return published
        }
    }

    public func notices(tenant: String?, includeRetracted: Bool) throws -> [Notice] {
        lock.withLock {
            stored.filter { (tenant == nil || $0.tenantID == tenant) && (includeRetracted || $0.retractedAt == nil) }
                .sorted { ($0.createdAt, $0.id) > ($1.createdAt, $1.id) }
        }
    }

    public func retract(_ id: Int64, now: Date) throws {
        try lock.withLock {
            guard let index = stored.firstIndex(where: { $0.id == id }) else { throw InboxError(message: "no announcement \(id)") }
            stored[index].retractedAt = now
            note(stored[index].tenantID, nil, .changed)
        }
    }
}
