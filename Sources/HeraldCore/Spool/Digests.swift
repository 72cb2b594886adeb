import Foundation

/// A template's `digest:`: rows with the same key within `window` become one message per channel,
/// whose variants read `{digest_count}` and `{digest_items}`.
public struct DigestRule: Sendable, Hashable {
    /// How long a digest collects after its first row.
    public var window: Duration
    /// The reserved column whose value groups rows: `user_id`, `email`, `mobile`, `openid` or `mini_openid`.
    public var key: String
    /// Rendered for each folded row with its parameters (`订单 {orderId} 已发货`).
    public var item: TemplateText
    /// Between items in `{digest_items}`.
    public var separator: String
    /// A digest with this many rows is sent at once.
    public var max: Int

    /// The columns a digest may be keyed by.
    public static let keys = ["user_id", "email", "mobile", "openid", "mini_openid"]

    /// Creates a rule.
    public init(window: Duration, key: String = "user_id", item: TemplateText, separator: String = "\n", max: Int = 50) {
        self.window = window
        self.key = key
        self.item = item
        self.separator = separator
        self.max = max
    }

    /// The row's value of the key column, or nil when it has none.
    public func keyValue(of row: RecipientRow) -> String? {
        let value: String? = switch key {
        case "email": row.recipient.email
        case "mobile": row.recipient.mobile
        case "openid": row.recipient.openID
        case "mini_openid": row.recipient.miniOpenID
        default: row.recipient.userID
        }
        return value.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// One row folded into a digest.
public struct DigestItem: Sendable, Hashable, Codable {
    /// The row's batch id.
    public var batch: String
    /// The row's batch file.
    public var file: String
    /// The row as read (its addresses and parameters; the digest message goes to the last row's addresses).
    public var row: RecipientRow
    /// The rendered `item` text.
    public var text: String

    /// Creates an item.
    public init(batch: String, file: String, row: RecipientRow, text: String) {
        self.batch = batch
        self.file = file
        self.row = row
        self.text = text
    }
}

/// Rows of one template and key collected until the window closes (or `max` is reached).
public struct Digest: Sendable, Hashable, Codable {
    /// Stable id (from the template, key and first row): the batch id of the digest message.
    public var id: String
    /// The template code.
    public var template: String
    /// The key value (a user id, an address).
    public var key: String
    /// When its first row came.
    public var openedAt: Date
    /// When it is sent: opened + window, or at once when full.
    public var dueAt: Date
    /// The rows, in the order they came.
    public var items: [DigestItem]

    /// Creates a digest.
    public init(id: String, template: String, key: String, openedAt: Date, dueAt: Date, items: [DigestItem]) {
        self.id = id
        self.template = template
        self.key = key
        self.openedAt = openedAt
        self.dueAt = dueAt
        self.items = items
    }

    /// The id of the digest message on `channel`.
    public func messageID(channel: Channel) -> MessageID {
        BatchContext(id: id, file: "").messageID(row: 1, channel: channel.rawValue)
    }

    /// A new digest's id: the template, the key and the first row's place.
    static func id(template: String, key: String, first item: DigestItem) -> String {
        "digest:" + MessageID.digest(of: "\(template)\u{0}\(key)\u{0}\(item.batch)\u{0}\(item.row.row)")
    }
}

/// Where digests collect rows until they are due, durably (a restart loses none): files in
/// `outbox/spool/digests/` when embedded, a table when workers share PostgreSQL.
///
/// ```swift
/// let digest = try await store.add(item, template: "order_shipped", key: "10001", now: now, window: .seconds(3600), max: 50)
/// for due in try await store.due(at: later) { /* send, then */ try await store.remove(due.id) }
/// ```
public protocol DigestStore: Sendable {
    /// Adds `item` to the open digest of (template, key), opening one due at `now + window` when
    /// none is open (or the open one is due or full); a full digest becomes due at once. The same
    /// row added twice is kept once. Returns the digest with the item.
    func add(_ item: DigestItem, template: String, key: String, now: Date, window: Duration, max: Int) async throws -> Digest
    /// Digests due at `now`, oldest first, for this process to send (a shared store hands each to one worker).
    func due(at now: Date) async throws -> [Digest]
    /// Removes a digest that was sent.
    func remove(_ id: String) async throws
}

extension DigestStore {
    /// The digest after adding `item` to `open` (or a new one), for stores that keep whole digests.
    public static func adding(_ item: DigestItem, to open: Digest?, template: String, key: String, now: Date, window: Duration,
                       max: Int) -> Digest {
        var digest = open ?? Digest(id: Digest.id(template: template, key: key, first: item), template: template, key: key,
                                    openedAt: now, dueAt: now.addingTimeInterval(window.seconds), items: [])
        if !digest.items.contains(where: { $0.batch == item.batch && $0.row.row == item.row.row }) { digest.items.append(item) }
        if digest.items.count >= max { digest.dueAt = min(digest.dueAt, now) }
        return digest
    }

    /// Whether `digest` still takes rows at `now`.
    static func isOpen(_ digest: Digest, now: Date, max: Int) -> Bool {
        digest.dueAt > now && digest.items.count < max
    }
}

/// The in-memory twin.
public final class MemoryDigestStore: DigestStore, @unchecked Sendable {
    private let lock = NSLock()
    private var digests: [String: Digest] = [:]

    /// Creates an empty store.
    public init() {}

    public func add(_ item: DigestItem, template: String, key: String, now: Date, window: Duration, max: Int) throws -> Digest {
        lock.withLock {
            let open = digests.values.first { $0.template == template && $0.key == key && Self.isOpen($0, now: now, max: max) }
            let digest = Self.adding(item, to: open, template: template, key: key, now: now, window: window, max: max)
            digests[digest.id] = digest
            return digest
        }
    }

    public func due(at now: Date) throws -> [Digest] {
        lock.withLock { digests.values.filter { $0.dueAt <= now }.sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) } }
    }

    public func remove(_ id: String) throws {
        lock.withLock { digests[id] = nil }
    }
}

/// Digests as files in `outbox/spool/digests/`: the open one of a template and key is
/// `<template>.<hash of key>.open.json`, rewritten (tmp → fsync → rename) with each row; when it
/// is due or full it is renamed `<id>.json` to wait for the run that sends it.
public struct FileDigestStore: DigestStore {
    /// The folder.
    public let folder: URL

    /// The store of the workspace at `root`.
    public init(root: URL) {
        folder = WorkspacePaths(root: root).digests
    }

    private func openFile(template: String, key: String) -> URL {
        folder.appendingPathComponent("\(template).\(MessageID.digest(of: key)).open.json")
    }

    private func read(_ url: URL) throws -> Digest? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        do {
            return try JSONDecoder.stored.decode(Digest.self, from: data)
        } catch {
            throw SpoolCorruption(file: "outbox/spool/digests/\(url.lastPathComponent)", reason: "\(error)")
        }
    }

    private func closedFile(_ digest: Digest) -> URL {
        folder.appendingPathComponent("\(digest.id.replacingOccurrences(of: ":", with: "-")).json")
    }

    public func add(_ item: DigestItem, template: String, key: String, now: Date, window: Duration, max: Int) throws -> Digest {
        let file = openFile(template: template, key: key)
        var open = try read(file)
        if let existing = open, !Self.isOpen(existing, now: now, max: max) {
            // Its time came (or it filled up): set aside for sending, and start a new one.
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            guard rename(file.path, closedFile(existing).path) == 0 else {
                throw SpoolCorruption(file: file.lastPathComponent, reason: String(cString: strerror(errno)))
            }
            open = nil
        }
        let digest = Self.adding(item, to: open, template: template, key: key, now: now, window: window, max: max)
        try DurableFile.write(try JSONEncoder.stored.encode(digest), to: file)
        return digest
    }

    public func due(at now: Date) throws -> [Digest] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return try names.filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
            .compactMap { try read(folder.appendingPathComponent($0)) }
            .filter { $0.dueAt <= now }
            .sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }
    }

    public func remove(_ id: String) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasSuffix(".json") {
            let url = folder.appendingPathComponent(name)
            if (try? read(url))?.id == id { unlink(url.path) }
        }
    }
}

extension JSONEncoder {
    /// How Herald keeps values in its stores (digest files, PostgreSQL rows): keys sorted, dates
    /// as seconds since 1970 (exact to the microsecond).
    public static var stored: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .secondsSince1970
        return encoder
    }
}

extension JSONDecoder {
    /// Reads what `JSONEncoder.stored` wrote.
    public static var stored: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return decoder
    }
}
