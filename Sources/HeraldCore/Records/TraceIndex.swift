import Foundation
import Synchronization

/// The index `herald trace` reads instead of every log line: beside each `outbox/log/DAY.jsonl`,
/// `outbox/log/.index/DAY.idx` holds one fixed 40-byte record per line — keyed 64-bit hashes of
/// the line's message id, of the message it came from or went into (`escalated_from`,
/// `digest`), of the recipient's full address and of the row's user id, and the line's byte
/// offset. The log writer appends records as it writes lines; addresses are never stored, only
/// hashes under the workspace's own key (`.index/key`), and the log itself stays masked.
///
/// Finding a message or a recipient scans the records of the days asked for (tens of MB at a
/// million messages, at memory speed), then reads just the matching lines.
///
/// ```swift
/// let index = TraceIndex(logDirectory: paths.logs)
/// let lines = try index.lines(matching: .address("li@example.com"), since: "2026-12-01")
/// ```
public struct TraceIndex: Sendable {
    /// The log folder (`outbox/log/`).
    public let logDirectory: URL

    /// The index of the logs in `logDirectory`.
    public init(logDirectory: URL) {
        self.logDirectory = logDirectory
    }

    /// `outbox/log/.index/`.
    var folder: URL { logDirectory.appendingPathComponent(".index", isDirectory: true) }

    /// What to look for.
    public enum Query: Sendable, Hashable {
        /// One message id, with the messages it escalated to or was folded into (one step either way).
        case message(String)
        /// Every message to an address (email, mobile, openid, user id of 站内信).
        case address(String)
        /// Every message of a row whose `user_id` is this.
        case user(String)
    }

    /// One log line found, as written.
    public struct Line: Sendable, Hashable {
        /// The log file's day (`2026-12-01`).
        public var day: String
        /// Where the line starts in the file.
        public var offset: UInt64
        /// The JSON text, without the newline.
        public var text: String
    }

    /// The lines matching `query` in the logs of `since` (a day, `YYYY-MM-DD`) and later, in
    /// file order. Days whose index is missing or behind their log are indexed first.
    public func lines(matching query: Query, since: String? = nil) throws -> [Line] {
        try search(query, since: since).lines
    }

    /// The lines matching `query`, and what the index could not answer: a day whose index was
    /// rebuilt from a log that masks recipients (or holds no user ids) cannot find a message by
    /// address (or user) on that day, and says so instead of answering "nothing". A damaged
    /// index (truncated, overwritten, made with another key) is set aside as
    /// `DAY.idx.damaged` and rebuilt from the log, with a warning.
    public func search(_ query: Query, since: String? = nil) throws -> (lines: [Line], warnings: [String]) {
        let days = Self.days(in: logDirectory).filter { day in since.map { day >= $0 } ?? true }
        guard !days.isEmpty else { return ([], []) }
        var warnings: [String] = []
        let key: TraceKey
        let indexes: [(String, Data)]
        if let writer = try? TraceIndexWriter(logDirectory: logDirectory),
           (try? days.forEach { day in
               if let damage = try verify(day, key: writer.key) { warnings.append(damage) }
               try catchUp(day, writer: writer)
           }) != nil {
            key = writer.key
            for day in days { if let gap = gap(of: day, for: query) { warnings.append(gap) } }
            // The index files are mapped, not read: the scans below touch each record once.
            indexes = days.map { day in
                (day, (try? Data(contentsOf: folder.appendingPathComponent("\(day).idx"), options: .alwaysMapped)) ?? Data())
            }
        } else {
            // A log folder Herald cannot write to (another worker's, mounted read-only): its lines
            // are indexed in memory for this query, without `user_id` keys.
            key = TraceKey(seed: UInt64.random(in: 1...UInt64.max))
            indexes = try days.map { day in
                var bytes: [UInt8] = []
                let (records, masked) = try records(ofDay: day, from: 0, key: key)
                for record in records { record.append(to: &bytes) }
                if let gap = Self.gap(day: day, masked: masked, query: query, why: "the log folder cannot be written, so it was indexed from the log") {
                    warnings.append(gap)
                }
                return (day, Data(bytes))
            }
        }

        var messages: Set<UInt64> = []
        switch query {
        case let .message(id):
            let target = key.hash(id)
            messages = [target]
            // One step either way: what this message came from or went into, and what came from it.
            for (_, data) in indexes {
                Self.scan(data) { record in
                    if record.message == target, record.related != 0 { messages.insert(record.related) }
                    if record.related == target { messages.insert(record.message) }
                }
            }
        case let .address(address):
            let target = key.address(address)
            for (_, data) in indexes { Self.scan(data) { if $0.address == target { messages.insert($0.message) } } }
        case let .user(user):
            let target = key.hash(user)
            for (_, data) in indexes { Self.scan(data) { if $0.user == target { messages.insert($0.message) } } }
        }
        guard !messages.isEmpty else { return ([], warnings) }

        var found: [Line] = []
        for (day, data) in indexes {
            var offsets: Set<UInt64> = []
            Self.scan(data) { if messages.contains($0.message) { offsets.insert($0.offset) } }
            guard !offsets.isEmpty else { continue }
            found += try Self.read(logDirectory.appendingPathComponent("\(day).jsonl"), at: offsets.sorted()).map {
                Line(day: day, offset: $0.offset, text: $0.text)
            }
        }
        return (found, warnings)
    }

    /// What a query of `query`'s kind cannot find on `day`, when its index was rebuilt from the log.
    func gap(of day: String, for query: Query) -> String? {
        guard let text = try? String(contentsOf: folder.appendingPathComponent("\(day).rebuilt"), encoding: .utf8) else { return nil }
        return Self.gap(day: day, masked: text.contains("masked"), query: query, why: "its index was rebuilt from the log")
    }

    static func gap(day: String, masked: Bool, query: Query, why: String) -> String? {
        switch query {
        case .message: nil
        case .address where masked:
            "\(day): \(why), which masks recipients: messages to an address cannot be found on that day (search by message id)"
        case .address: nil
        case .user:
            "\(day): \(why), which does not hold user ids: messages of a user cannot be found on that day (search by message id or --to)"
        }
    }

    /// Checks `day`'s index against its log: offsets inside the log and in order, and its first
    /// and last records naming the message of the line they point at under this key. A damaged
    /// index is set aside (`DAY.idx.damaged`) to be rebuilt; says what was wrong, or nil.
    func verify(_ day: String, key: TraceKey) throws -> String? {
        let url = folder.appendingPathComponent("\(day).idx")
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped), !data.isEmpty else { return nil }
        let log = logDirectory.appendingPathComponent("\(day).jsonl")
        let size = UInt64((try? FileManager.default.attributesOfItem(atPath: log.path)[.size] as? NSNumber)?.uint64Value ?? 0)
        var problem: String?
        var previous: UInt64 = 0
        var first: TraceRecord?, last: TraceRecord?
        Self.scan(data) { record in
            guard problem == nil else { return }
            if record.offset >= size || record.offset < previous { problem = "its records point outside the log or out of order" }
            previous = record.offset
            if first == nil { first = record }
            last = record
        }
        if problem == nil {
            for record in [first, last].compactMap({ $0 }) {
                guard let line = try Self.read(log, at: [record.offset]).first, let id = Self.field("message_id", in: line.text),
                      key.hash(id) == record.message else {
                    problem = "its records do not match the log's lines (overwritten, or made with another key)"
                    break
                }
            }
        }
        guard let problem else { return nil }
        let aside = folder.appendingPathComponent("\(day).idx.damaged")
        unlink(aside.path)
        guard rename(url.path, aside.path) == 0 else {
            throw TraceIndexError("outbox/log/.index/\(day).idx is damaged (\(problem)) and cannot be set aside: \(String(cString: strerror(errno)))")
        }
        return "\(day): the index was damaged (\(problem)); it was set aside as .index/\(day).idx.damaged and rebuilt from the log"
    }

    /// Calls `visit` with each record of an index file's bytes, in order.
    static func scan(_ data: Data, _ visit: (TraceRecord) -> Void) {
        data.withUnsafeBytes { raw in
            var base = 0
            while base + TraceRecord.size <= raw.count {
                func word(_ at: Int) -> UInt64 { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base + at * 8, as: UInt64.self)) }
                visit(TraceRecord(message: word(0), related: word(1), address: word(2), user: word(3), offset: word(4)))
                base += TraceRecord.size
            }
        }
    }

    /// The latest mail message sent to `address`, for bounces that name no message of Herald's.
    public func latestMail(to address: String) throws -> MessageID? {
        let lines = try self.lines(matching: .address(address))
        for line in lines.reversed() where line.text.contains("\"channel\":\"mail\"") {
            if let id = Self.field("message_id", in: line.text) { return MessageID(id) }
        }
        return nil
    }

    /// Days with a log, in order.
    static func days(in directory: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") && !$0.hasPrefix(".") }.map { String($0.dropLast(6)) }.sorted()
    }

    /// Indexes the lines of `day`'s log that its index does not cover yet (a log written before
    /// the index existed, or lines whose records a crash lost).
    func catchUp(_ day: String, writer: TraceIndexWriter) throws {
        let log = logDirectory.appendingPathComponent("\(day).jsonl")
        let size = UInt64((try? FileManager.default.attributesOfItem(atPath: log.path)[.size] as? NSNumber)?.uint64Value ?? 0)
        // The index covers its lines up to the end of the line its last record names.
        var covered: UInt64 = 0
        if let last = try Self.lastRecord(at: folder.appendingPathComponent("\(day).idx")),
           let line = try Self.read(log, at: [last.offset]).first {
            covered = last.offset + UInt64(line.text.utf8.count) + 1
        }
        guard covered < size else { return }
        let (records, masked) = try records(ofDay: day, from: covered, key: writer.key)
        try writer.append(records, day: day)
        // Records read from the log have no user ids, and no addresses where the log masks them.
        if !records.isEmpty {
            try DurableFile.write(Data((masked ? "masked\n" : "users\n").utf8), to: folder.appendingPathComponent("\(day).rebuilt"))
        }
    }

    /// Index records of `day`'s log lines from byte `covered` on, read from the lines themselves
    /// (no `user_id`: lines do not hold it).
    func records(ofDay day: String, from covered: UInt64, key: TraceKey) throws -> (records: [TraceRecord], masked: Bool) {
        guard let handle = FileHandle(forReadingAtPath: logDirectory.appendingPathComponent("\(day).jsonl").path) else { return ([], false) }
        defer { try? handle.close() }
        try handle.seek(toOffset: covered)
        let bytes = [UInt8](try handle.readToEnd() ?? Data())
        var records: [TraceRecord] = []
        var masked = false
        var start = 0
        while let newline = bytes[start...].firstIndex(of: 0x0A) {
            if let object = try? JSONSerialization.jsonObject(with: Data(bytes[start..<newline])) as? [String: Any],
               let id = object["message_id"] as? String {
                let related = object["escalated_from"] as? String ?? object["digest"] as? String
                // A masked recipient never matches a query; a full one (log: {recipients: full}) does.
                let recipient = object["recipient"] as? String
                if recipient?.contains("*") == true { masked = true }
                let address = recipient.map { key.address($0) }
                records.append(TraceRecord(message: key.hash(id), related: related.map(key.hash) ?? 0,
                                           address: address ?? 0, user: 0, offset: covered + UInt64(start)))
            }
            start = newline + 1
        }
        return (records, masked)
    }

    /// The last whole record of one `.idx` file (nil when it has none).
    static func lastRecord(at url: URL) throws -> TraceRecord? {
        guard let handle = FileHandle(forReadingAtPath: url.path) else { return nil }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        guard size >= UInt64(TraceRecord.size) else { return nil }
        try handle.seek(toOffset: size - size % UInt64(TraceRecord.size) - UInt64(TraceRecord.size))
        guard let data = try handle.read(upToCount: TraceRecord.size) else { return nil }
        var last: TraceRecord?
        scan(data) { last = $0 }
        return last
    }

    /// The lines of `file` starting at `offsets` (sorted), each up to its newline.
    static func read(_ file: URL, at offsets: [UInt64]) throws -> [(offset: UInt64, text: String)] {
        guard let handle = FileHandle(forReadingAtPath: file.path) else { return [] }
        defer { try? handle.close() }
        var lines: [(UInt64, String)] = []
        for offset in offsets {
            try handle.seek(toOffset: offset)
            var collected = Data()
            while true {
                guard let chunk = try handle.read(upToCount: 4096), !chunk.isEmpty else { break }
                if let newline = chunk.firstIndex(of: 0x0A) {
                    collected += chunk[chunk.startIndex..<newline]
                    lines.append((offset, String(decoding: collected, as: UTF8.self)))
                    break
                }
                collected += chunk
                if collected.count > 1 << 20 { break }
            }
        }
        return lines
    }

    /// The string value of a top-level `"name":"…"` in a log line written by `JSONLinesLog`
    /// (keys are never repeated inside nested objects under these names).
    static func field(_ name: String, in line: String) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        return object[name] as? String
    }
}

/// The index cannot be used, and why.
public struct TraceIndexError: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// One line's entry in a `.idx` file: five little-endian 64-bit words.
struct TraceRecord: Sendable, Hashable {
    static let size = 40
    var message: UInt64
    var related: UInt64
    var address: UInt64
    var user: UInt64
    var offset: UInt64

    func append(to bytes: inout [UInt8]) {
        for word in [message, related, address, user, offset] {
            withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) }
        }
    }
}

/// The workspace's key for index hashes: 64 random bits in `outbox/log/.index/key`, made once.
struct TraceKey: Sendable {
    let seed: UInt64

    /// FNV-1a over the text, started from the key: cheap enough for every log line.
    func hash(_ text: String) -> UInt64 {
        hash(text.utf8)
    }

    private func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes, lowercased: Bool = false) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
        for byte in bytes {
            hash ^= UInt64(lowercased && byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash == 0 ? 1 : hash
    }

    /// The hash of an address as suppressions key it (`Preferences.normalize`): an email
    /// lowercased, a mobile as `+86…`. The pipeline's addresses are normalised already and take
    /// the byte path; other text (a query, an old log line) is normalised first.
    func address(_ text: String) -> UInt64 {
        let bytes = text.utf8
        if let first = bytes.first, let last = bytes.last, first != 0x20, last != 0x20, bytes.allSatisfy({ $0 < 0x80 }) {
            if bytes.contains(UInt8(ascii: "@")) { return hash(bytes, lowercased: true) }
            if first == UInt8(ascii: "+"), bytes.dropFirst().allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return hash(bytes) }
            // An openid or a user id: itself, unless it reads as a mobile.
            return AddressValidation.normalizeMobile(text).map { hash($0) } ?? hash(bytes)
        }
        return hash(Preferences.normalize(text, channel: nil))
    }
}

/// Appends index records beside the log (`JSONLinesLog` calls it with each write).
final class TraceIndexWriter: Sendable {
    let folder: URL
    let key: TraceKey
    /// The open index file of each day.
    private let handles = Mutex<[String: FileHandle]>([:])

    init(logDirectory: URL) throws {
        folder = logDirectory.appendingPathComponent(".index", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let keyFile = folder.appendingPathComponent("key")
        if let text = try? String(contentsOf: keyFile, encoding: .utf8), let seed = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16) {
            key = TraceKey(seed: seed)
        } else {
            let seed = UInt64.random(in: 1...UInt64.max)
            try DurableFile.write(Data((String(seed, radix: 16) + "\n").utf8), to: keyFile)
            // Another process may have written its key first: the file's key is the one.
            let text = (try? String(contentsOf: keyFile, encoding: .utf8)) ?? ""
            key = TraceKey(seed: UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16) ?? seed)
        }
    }

    deinit {
        handles.withLock { handles in for handle in handles.values { try? handle.close() } }
    }

    /// The record of one event written at `offset`.
    func record(_ event: LogEvent, offset: UInt64) -> TraceRecord {
        TraceRecord(message: key.hash(event.messageID.value),
                    related: (event.escalatedFrom ?? event.digest).map(key.hash) ?? 0,
                    address: event.traceAddress.map(key.address) ?? 0,
                    user: event.traceUser.map(key.hash) ?? 0,
                    offset: offset)
    }

    func append(_ records: [TraceRecord], day: String) throws {
        guard !records.isEmpty else { return }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(records.count * TraceRecord.size)
        for record in records { record.append(to: &bytes) }
        try handles.withLock { handles in
            let handle: FileHandle
            if let open = handles[day] {
                handle = open
            } else {
                let url = folder.appendingPathComponent("\(day).idx")
                let fd = Foundation.open(url.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
                guard fd >= 0 else { throw CocoaError(.fileWriteUnknown) }
                // A record half-written by a killed process is cut off, so the records stay aligned.
                var status = stat()
                if fstat(fd, &status) == 0, status.st_size % Int(TraceRecord.size) != 0 {
                    _ = ftruncate(fd, status.st_size - status.st_size % Int(TraceRecord.size))
                }
                handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
                handles[day] = handle
            }
            try handle.write(contentsOf: bytes)
        }
    }
}
