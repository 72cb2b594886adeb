import Foundation
import Synchronization

/// A template's `digest:`: rows with the same key within `window` become one message per channel,
/// whose variants read `{digest_count}` and `{digest_items}`.
public struct DigestRule: Sendable, Hashable {
    /// How long a digest collects after its first row.
    public var window: Duration
    /// The reserved column whose value groups rows: `user_id`, `email`, `mobile`, `openid`, `mini_openid`, `wecom_user`, `dingtalk_user` or `feishu_user`.
    public var key: String
    /// Rendered for each folded row with its parameters (`订单 {orderId} 已发货`).
    public var item: TemplateText
    /// Between items in `{digest_items}`.
    public var separator: String
    /// A digest with this many rows is sent at once.
    public var max: Int

    /// The columns a digest may be keyed by.
    public static let keys = ["user_id", "email", "mobile", "openid", "mini_openid", "wecom_user", "dingtalk_user", "feishu_user"]

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
        case "wecom_user": row.recipient.wecomUser
        case "dingtalk_user": row.recipient.dingtalkUser
        case "feishu_user": row.recipient.feishuUser
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
    public static func id(template: String, key: String, first item: DigestItem) -> String {
        "digest:" + MessageID.digest(of: "\(template)\u{0}\(key)\u{0}\(item.batch)\u{0}\(item.row.row)")
    }
}

/// Where a row went: the digest that holds it, how many rows that digest holds, when it is due.
public struct DigestPlace: Sendable, Hashable {
    /// The digest's id.
    public var id: String
    /// Its rows so far.
    public var count: Int
    /// When it is sent.
    public var dueAt: Date

    /// Creates a place.
    public init(id: String, count: Int, dueAt: Date) {
        self.id = id
        self.count = count
        self.dueAt = dueAt
    }

    /// The id of the digest message on `channel`.
    public func messageID(channel: Channel) -> MessageID {
        BatchContext(id: id, file: "").messageID(row: 1, channel: channel.rawValue)
    }
}

/// Where digests collect rows until they are due, durably (a restart loses none): files in
/// `outbox/spool/digests/` when embedded, a table when workers share PostgreSQL. Adding a row
/// costs the same however many rows its digest holds already (an append, not a rewrite).
///
/// ```swift
/// let place = try await store.add(item, template: "order_shipped", key: "10001", now: now, window: .seconds(3600), max: 50)
/// for due in try await store.due(at: later) { /* send, then */ try await store.remove(due.id) }
/// ```
public protocol DigestStore: Sendable {
    /// Adds `item` to the open digest of (template, key), opening one due at `now + window` when
    /// none is open (or the open one is due or full); a full digest becomes due at once. The same
    /// row added twice is kept once. Returns where the item is.
    func add(_ item: DigestItem, template: String, key: String, now: Date, window: Duration, max: Int) async throws -> DigestPlace
    /// Digests due at `now`, oldest first, for this process to send (a shared store hands each to one worker).
    func due(at now: Date) async throws -> [Digest]
    /// Removes a digest that was sent.
    func remove(_ id: String) async throws
}

extension DigestStore {
    /// The digest after adding `item` to `open` (or a new one), for the memory twin.
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
public final class MemoryDigestStore: DigestStore, Sendable {
    private let digests = Mutex<[String: Digest]>([:])

    /// Creates an empty store.
    public init() {}

    public func add(_ item: DigestItem, template: String, key: String, now: Date, window: Duration, max: Int) throws -> DigestPlace {
        digests.withLock { digests in
            let open = digests.values.first { $0.template == template && $0.key == key && Self.isOpen($0, now: now, max: max) }
            let digest = Self.adding(item, to: open, template: template, key: key, now: now, window: window, max: max)
            digests[digest.id] = digest
            return DigestPlace(id: digest.id, count: digest.items.count, dueAt: digest.dueAt)
        }
    }

    public func due(at now: Date) throws -> [Digest] {
        digests.withLock { $0.values.filter { $0.dueAt <= now }.sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) } }
    }

    public func remove(_ id: String) throws {
        digests.withLock { $0[id] = nil }
    }
}

/// Digests as files in `outbox/spool/digests/`, one JSON-lines file each: a header line (id,
/// template, key, opened, due, max), then one line per row, appended and fsynced as it comes, so
/// adding a row costs the same whatever the digest holds. The open digest of a template and key
/// is `<template>.<hash of key>.open.jsonl`; when it is due or full it is renamed `<id>.jsonl` to
/// wait for the run that sends it. A digest is full once `max` rows are in; it is then due at the
/// time of its last row. Files of the earlier format (one JSON document, rewritten with every
/// row: quadratic) are still read, and an open one is converted when its next row comes.
public struct FileDigestStore: DigestStore {
    /// The folder.
    public let folder: URL
    /// What this process knows of the open files it appended to: their size then, their count
    /// and rows, so the next add need not read the file again (a file of another size is re-read).
    private let known = KnownDigests()

    /// The store of the workspace at `root`.
    public init(root: URL) {
        folder = WorkspacePaths(root: root).digests
    }

    /// The header line.
    fileprivate struct Header: Codable {
        var id: String
        var template: String
        var key: String
        var openedAt: Date
        var dueAt: Date
        var max: Int
    }

    /// One row's line: the item, and when it came (a full digest is due then).
    fileprivate struct Line: Codable {
        var item: DigestItem
        var at: Date
    }

    /// An open digest as this process last saw it.
    fileprivate struct State {
        var size: UInt64
        var header: Header
        var count: Int
        var rows: Set<String>
        var lastAt: Date?

        /// When it is due: at its time, or when its last row filled it.
        var dueAt: Date { count >= header.max ? Swift.min(header.dueAt, lastAt ?? header.dueAt) : header.dueAt }

        func isOpen(now: Date) -> Bool { dueAt > now && count < header.max }
    }

    private func openFile(template: String, key: String) -> URL {
        folder.appendingPathComponent("\(template).\(MessageID.digest(of: key)).open.jsonl")
    }

    private func legacyOpenFile(template: String, key: String) -> URL {
        folder.appendingPathComponent("\(template).\(MessageID.digest(of: key)).open.json")
    }

    private func closedFile(id: String) -> URL {
        folder.appendingPathComponent("\(id.replacingOccurrences(of: ":", with: "-")).jsonl")
    }

    private static func rowKey(_ item: DigestItem) -> String { "\(item.batch)\u{0}\(item.row.row)" }

    private func corruption(_ url: URL, _ reason: String) -> SpoolCorruption {
        SpoolCorruption(file: "outbox/spool/digests/\(url.lastPathComponent)", reason: reason)
    }

    /// A digest file (either format) read whole; nil when it does not exist.
    private func read(_ url: URL) throws -> Digest? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        if url.pathExtension == "json" {
            do { return try JSONDecoder.stored.decode(Digest.self, from: data) } catch { throw corruption(url, "\(error)") }
        }
        let (state, lines) = try parse(data, url: url)
        return Digest(id: state.header.id, template: state.header.template, key: state.header.key, openedAt: state.header.openedAt,
                      dueAt: state.dueAt, items: lines.map(\.item))
    }

    /// The header and rows of a JSON-lines digest. A last line without its newline (a crash in
    /// the middle of an append) is left out: that row's run did not finish, and it comes again.
    private func parse(_ data: Data, url: URL) throws -> (State, [Line]) {
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        var whole = data.count
        if data.last != 0x0A, let torn = lines.popLast() { whole -= torn.count }
        guard let first = lines.first else { throw corruption(url, "no header line") }
        do {
            let header = try JSONDecoder.stored.decode(Header.self, from: Data(first))
            var rows = Set<String>(), items: [Line] = []
            for text in lines.dropFirst() {
                let line = try JSONDecoder.stored.decode(Line.self, from: Data(text))
                if rows.insert(Self.rowKey(line.item)).inserted { items.append(line) }
            }
            return (State(size: UInt64(whole), header: header, count: items.count, rows: rows, lastAt: items.last?.at), items)
        } catch {
            throw corruption(url, "\(error)")
        }
    }

    public func add(_ item: DigestItem, template: String, key: String, now: Date, window: Duration, max: Int) throws -> DigestPlace {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // One writer at a time across processes (`herald run` and `herald watch` on one workspace).
        let lock = open(folder.appendingPathComponent(".lock").path, O_CREAT | O_RDWR, 0o644)
        guard lock >= 0 else { throw corruption(folder, "cannot lock: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        flock(lock, LOCK_EX)
        defer { flock(lock, LOCK_UN) }

        let file = openFile(template: template, key: key)
        // Only an open digest this process has not seen can be one of the earlier format.
        if known.get(file.path) == nil { try convertLegacy(template: template, key: key, to: file) }
        var state = try state(of: file)
        if let existing = state, !existing.isOpen(now: now) {
            // Its time came (or it filled up): set aside for sending, and start a new one.
            guard rename(file.path, closedFile(id: existing.header.id).path) == 0 else {
                throw corruption(file, String(cString: strerror(errno)))
            }
            known.forget(file.path)
            state = nil
        }
        var bytes = Data()
        if state == nil {
            let header = Header(id: Digest.id(template: template, key: key, first: item), template: template, key: key,
                                openedAt: now, dueAt: now.addingTimeInterval(window.seconds), max: max)
            bytes += try JSONEncoder.stored.encode(header) + Data([0x0A])
            state = State(size: 0, header: header, count: 0, rows: [], lastAt: nil)
        }
        guard var current = state else { throw corruption(file, "no digest") }
        if current.rows.insert(Self.rowKey(item)).inserted {
            bytes += try JSONEncoder.stored.encode(Line(item: item, at: now)) + Data([0x0A])
            current.count += 1
            current.lastAt = now
        }
        if !bytes.isEmpty {
            try append(bytes, to: file)
            current.size += UInt64(bytes.count)
        }
        known.set(file.path, current)
        return DigestPlace(id: current.header.id, count: current.count, dueAt: current.dueAt)
    }

    /// The open digest in `file`, from what this process knows when the file is still the size
    /// it left it, else read from the file; nil when there is none.
    private func state(of file: URL) throws -> State? {
        var status = stat()
        guard stat(file.path, &status) == 0 else { return nil }
        if let cached = known.get(file.path), cached.size == UInt64(status.st_size) { return cached }
        guard let data = try? Data(contentsOf: file) else { return nil }
        var (state, _) = try parse(data, url: file)
        if state.size != UInt64(data.count) {
            // A torn last line: cut it off, so the next append starts a line of its own.
            guard truncate(file.path, off_t(state.size)) == 0 else { throw corruption(file, String(cString: strerror(errno))) }
        }
        state.size = UInt64(min(state.size, UInt64(data.count)))
        return state
    }

    /// An open digest of the earlier format becomes a JSON-lines file (once).
    private func convertLegacy(template: String, key: String, to file: URL) throws {
        let legacy = legacyOpenFile(template: template, key: key)
        guard let digest = try read(legacy) else { return }
        let header = Header(id: digest.id, template: digest.template, key: digest.key, openedAt: digest.openedAt, dueAt: digest.dueAt,
                            max: digest.dueAt <= digest.openedAt ? digest.items.count : Int.max)
        var bytes = try JSONEncoder.stored.encode(header) + Data([0x0A])
        for item in digest.items { bytes += try JSONEncoder.stored.encode(Line(item: item, at: digest.openedAt)) + Data([0x0A]) }
        try DurableFile.write(bytes, to: file)
        unlink(legacy.path)
    }

    private func append(_ bytes: Data, to file: URL) throws {
        let fd = open(file.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw DurableFileError(path: file.path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard bytes.withUnsafeBytes({ writeFully(fd, $0) }), fsync(fd) == 0 else {
            throw DurableFileError(path: file.path, reason: "write or fsync failed: \(String(cString: strerror(errno)))")
        }
    }

    public func due(at now: Date) throws -> [Digest] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return try names.filter { ($0.hasSuffix(".jsonl") || $0.hasSuffix(".json")) && !$0.hasPrefix(".") }
            .compactMap { try read(folder.appendingPathComponent($0)) }
            .filter { $0.dueAt <= now }
            .sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }
    }

    public func remove(_ id: String) throws {
        let closed = closedFile(id: id)
        let legacy = closed.deletingPathExtension().appendingPathExtension("json")
        for url in [closed, legacy] where FileManager.default.fileExists(atPath: url.path) {
            unlink(url.path)
            return
        }
        // Due while still open (its window passed and no row came since): find it by its header.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names where name.hasSuffix(".open.jsonl") || name.hasSuffix(".open.json") {
            let url = folder.appendingPathComponent(name)
            if (try? read(url))?.id == id {
                unlink(url.path)
                known.forget(url.path)
            }
        }
    }
}

/// `FileDigestStore`'s memory of the open files this process appended to.
private final class KnownDigests: Sendable {
    private let states = Mutex<[String: FileDigestStore.State]>([:])

    func get(_ path: String) -> FileDigestStore.State? { states.withLock { $0[path] } }
    func set(_ path: String, _ state: FileDigestStore.State) { states.withLock { $0[path] = state } }
    func forget(_ path: String) { _ = states.withLock { $0.removeValue(forKey: path) } }
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
