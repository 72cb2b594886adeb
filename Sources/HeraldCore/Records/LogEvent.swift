import Foundation

/// One line of `outbox/log/YYYY-MM-DD.jsonl`: something that happened to one message, or (for
/// `kind == .batch`) a note about a whole batch that reports do not count as a message.
public struct LogEvent: Sendable, Hashable {
    /// What a line is about.
    public enum Kind: String, Sendable, Hashable {
        /// One message (the default; the line has no `event` key).
        case message
        /// A whole batch: how many of its messages were duplicates (`"event": "batch"`).
        case batch
    }

    /// Message or batch note.
    public var kind: Kind = .message
    /// For a batch note: how many messages it counts.
    public var count: Int?
    /// What the message sends (`MessageFingerprint`); lets `herald ledger rebuild` restore it.
    public var fingerprint: String?
    /// When it happened.
    public var timestamp: Date
    /// The message (for a batch note, the batch's row-0 id).
    public var messageID: MessageID
    /// The batch id (JSON `id`, or `sha256:…` of the file).
    public var batch: String
    /// The batch file name.
    public var file: String
    /// The recipient row of the batch (1 = first).
    public var row: Int?
    /// The physical line of the batch file where the row starts.
    public var line: Int?
    /// The template code.
    public var template: String?
    /// The template's category.
    public var category: TemplateCategory?
    /// The channel.
    public var channel: Channel?
    /// Account, SMS channel or app id.
    public var account: String?
    /// Transport name (`file`, `discard`, `smtp`…).
    public var transport: String?
    /// The address, masked unless configured otherwise.
    public var recipient: String?
    /// The status after this event.
    public var status: DeliveryStatus
    /// The attempt number (1 for a first send).
    public var attempt: Int
    /// Time the send took, in milliseconds.
    public var latencyMilliseconds: Double?
    /// The provider's id for the message (SMTP Message-ID, BizId, msgid, file path).
    public var providerID: String?
    /// Why it did not end `sent`.
    public var error: PipelineError?
    /// Row parameters the template does not use.
    public var extra: [String: String]
    /// For an escalation message: the id of the row's first message it escalates from.
    public var escalatedFrom: String?
    /// For a row folded into a digest: the id of the digest message it went into.
    public var digest: String?
    /// For a deferred message: when it will be tried again.
    public var nextAttempt: Date?
    /// The recipient's full address, for the trace index only (never written to the line).
    public var traceAddress: String?
    /// The row's `user_id`, for the trace index only (never written to the line).
    public var traceUser: String?

    /// Creates an event.
    public init(timestamp: Date, messageID: MessageID, batch: String, file: String, row: Int? = nil, line: Int? = nil,
                template: String? = nil, category: TemplateCategory? = nil, channel: Channel? = nil,
                account: String? = nil, transport: String? = nil, recipient: String? = nil, status: DeliveryStatus,
                attempt: Int = 1, latencyMilliseconds: Double? = nil, providerID: String? = nil,
                error: PipelineError? = nil, extra: [String: String] = [:], nextAttempt: Date? = nil) {
        self.nextAttempt = nextAttempt
        self.timestamp = timestamp
        self.messageID = messageID
        self.batch = batch
        self.file = file
        self.row = row
        self.line = line
        self.template = template
        self.category = category
        self.channel = channel
        self.account = account
        self.transport = transport
        self.recipient = recipient
        self.status = status
        self.attempt = attempt
        self.latencyMilliseconds = latencyMilliseconds
        self.providerID = providerID
        self.error = error
        self.extra = extra
    }

    /// The JSON object, keys in a fixed order, without the trailing newline.
    public func jsonLine(timeZone: TimeZone) -> String {
        var json = JSONObjectWriter()
        write(to: &json, timestamp: Timestamp.iso8601(timestamp, timeZone: timeZone), zone: timeZone)
        return String(decoding: json.finish(), as: UTF8.self)
    }

    /// Writes the object with `timestamp` already formatted (shared by a chunk of events).
    func write(to json: inout JSONObjectWriter, timestamp: String, zone: TimeZone, worker: String? = nil) {
        json.add("ts", timestamp)
        if kind != .message { json.add("event", kind.rawValue) }
        json.add("message_id", messageID.value)
        json.add("batch", batch)
        json.add("file", file)
        json.add("row", row)
        json.add("line", line)
        json.add("template", template)
        json.add("category", category?.rawValue)
        json.add("channel", channel?.rawValue)
        json.add("account", account)
        json.add("transport", transport)
        json.add("worker", worker)
        json.add("recipient", recipient)
        json.add("status", status.rawValue)
        json.add("attempt", attempt)
        json.add("count", count)
        json.add("fingerprint", fingerprint)
        json.add("escalated_from", escalatedFrom)
        json.add("digest", digest)

        if let latencyMilliseconds {
            json.addRaw("latency_ms", String(Double(Int((latencyMilliseconds * 1000).rounded())) / 1000))
        }
        json.add("provider_id", providerID)
        if let nextAttempt { json.add("next_attempt", Timestamp.iso8601(nextAttempt, timeZone: zone)) }
        if let error {
            json.beginObject("error")
            json.add("stage", error.stage.rawValue)
            json.add("code", error.code.rawValue)
            json.add("message", error.reason)
            json.endObject()
        }
        if !extra.isEmpty {
            json.beginObject("extra")
            for key in extra.keys.sorted() { json.add(key, extra[key]) }
            json.endObject()
        }
    }
}

/// Builds JSON objects as UTF-8 bytes; nil values are left out. Several objects may be
/// written one after another (`newline()` between them).
struct JSONObjectWriter {
    private(set) var bytes: [UInt8] = [0x7B]
    private var first = true

    mutating func add(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        Self.quote(value, into: &bytes)
    }

    mutating func add(_ key: String, _ value: Int?) {
        guard let value else { return }
        self.key(key)
        bytes += String(value).utf8
    }

    mutating func addRaw(_ key: String, _ raw: String) {
        self.key(key)
        bytes += raw.utf8
    }

    mutating func beginObject(_ key: String) {
        self.key(key)
        bytes.append(0x7B)
        first = true
    }

    mutating func endObject() {
        bytes.append(0x7D)
        first = false
    }

    /// Closes the current object, adds a newline and opens the next one.
    mutating func newline() {
        bytes += [0x7D, 0x0A, 0x7B]
        first = true
    }

    /// Closes the object and returns all bytes written.
    func finish() -> [UInt8] { bytes + [0x7D] }

    private mutating func key(_ key: String) {
        if !first { bytes.append(0x2C) }
        first = false
        Self.quote(key, into: &bytes)
        bytes.append(0x3A)
    }

    /// A JSON string literal; non-ASCII stays UTF-8, quotes, backslashes and control characters are escaped.
    static func quote(_ value: String, into bytes: inout [UInt8]) {
        bytes.append(0x22)
        var value = value
        let plain = value.withUTF8 { buffer -> Bool in
            for byte in buffer where byte < 0x20 || byte == 0x22 || byte == 0x5C { return false }
            bytes.append(contentsOf: buffer)
            return true
        }
        if plain {
            bytes.append(0x22)
            return
        }
        for byte in value.utf8 {
            switch byte {
            case 0x22: bytes += [0x5C, 0x22]
            case 0x5C: bytes += [0x5C, 0x5C]
            case 0x0A: bytes += [0x5C, 0x6E]
            case 0x0D: bytes += [0x5C, 0x72]
            case 0x09: bytes += [0x5C, 0x74]
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }
}

/// Where log events go.
///
/// ```swift
/// let log = MemoryEventLog()
/// try log.append([event]); log.events   // [event]
/// ```
public protocol EventLog: Sendable {
    /// Appends events in order.
    func append(_ events: [LogEvent]) throws
    /// Makes everything appended so far durable.
    func flush() throws
}

/// The in-memory twin of `JSONLinesLog`.
public final class MemoryEventLog: EventLog, @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [LogEvent] = []

    /// Creates an empty log.
    public init() {}

    /// Everything appended.
    public var events: [LogEvent] { lock.withLock { stored } }

    public func append(_ events: [LogEvent]) throws {
        lock.withLock { stored += events }
    }

    public func flush() throws {}
}

/// `outbox/log/YYYY-MM-DD.jsonl`: appended, never rewritten; the day is the event's day in the
/// configured time zone. Each `append` reaches the file with one write; `flush` also fsyncs.
public final class JSONLinesLog: EventLog, @unchecked Sendable {
    private let directory: URL
    private let timeZone: TimeZone
    private let lock = NSLock()
    private var handles: [String: FileHandle] = [:]
    private var pending: [String: [UInt8]] = [:]
    private var pendingRecords: [String: [TraceRecord]] = [:]
    private let index: TraceIndexWriter?
    /// The worker named on every line (set when workers share a PostgreSQL store), or nil.
    public let worker: String?

    /// Creates a log writing under `directory`; every line names `worker` when given.
    public init(directory: URL, timeZone: TimeZone, worker: String? = nil) throws {
        self.directory = directory
        self.timeZone = timeZone
        self.worker = worker
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The log never fails for its index: without one, `herald trace` indexes the lines itself.
        index = try? TraceIndexWriter(logDirectory: directory)
    }

    deinit {
        try? flush()
        for handle in handles.values { try? handle.close() }
    }

    public func append(_ events: [LogEvent]) throws {
        try lock.withLock {
            var lastDate: Date?
            var stamp = ""
            var day = ""
            for event in events {
                if event.timestamp != lastDate {
                    lastDate = event.timestamp
                    stamp = Timestamp.iso8601(event.timestamp, timeZone: timeZone)
                    day = Timestamp.day(event.timestamp, timeZone: timeZone)
                }
                var json = JSONObjectWriter()
                event.write(to: &json, timestamp: stamp, zone: timeZone, worker: worker)
                if let index {
                    // The offset within what is pending; writePending adds where the file ends.
                    pendingRecords[day, default: []].append(index.record(event, offset: UInt64(pending[day]?.count ?? 0)))
                }
                pending[day, default: []] += json.finish()
                pending[day]?.append(0x0A)
            }
            // Hand the lines to the kernel now, before the ledger records the chunk: a killed
            // process then never leaves a ledger entry without its log line.
            try writePending()
        }
    }

    public func flush() throws {
        try lock.withLock {
            try writePending()
            for handle in handles.values { try handle.synchronize() }
        }
    }

    private func writePending() throws {
        for (day, bytes) in pending where !bytes.isEmpty {
            let handle = try handle(for: day)
            try handle.write(contentsOf: bytes)
            // Appended as one write: it ends where the file offset now is.
            let start = try handle.offset() - UInt64(bytes.count)
            if let index, var records = pendingRecords[day] {
                for i in records.indices { records[i].offset += start }
                // The index trails its lines: a crash in between leaves lines `herald trace` indexes later.
                try? index.append(records, day: day)
            }
        }
        pending.removeAll(keepingCapacity: true)
        pendingRecords.removeAll(keepingCapacity: true)
    }

    private func handle(for day: String) throws -> FileHandle {
        if let handle = handles[day] { return handle }
        let url = directory.appendingPathComponent("\(day).jsonl")
        // O_APPEND: another process appending to the same day (`herald bounces ingest` beside a
        // running `herald watch`) never has its lines overwritten.
        let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path,
                                                           NSLocalizedDescriptionKey: String(cString: strerror(errno))])
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        handles[day] = handle
        return handle
    }
}

/// Hides most of an address in logs: `l***@example.com`, `+86138****8000`, `oAbC***xYz9`.
public enum RecipientMasking: String, Sendable, Hashable, CaseIterable {
    case masked
    case full

    /// `text` (an error message) with every occurrence of each address replaced by its masked
    /// form, so `email 'li.lei@example..com' is not valid` and a provider's `550 <li@x.cn>…`
    /// leak no more than the recipient field does. Longer addresses are replaced first.
    public func scrub(_ text: String, addresses: [(address: String, channel: Channel)]) -> String {
        guard self == .masked else { return text }
        var result = text
        for (address, channel) in addresses.sorted(by: { $0.address.count > $1.address.count })
        where !address.isEmpty && channel != .site && result.contains(address) {
            result = result.replacingOccurrences(of: address, with: apply(address, channel: channel))
        }
        return result
    }


    /// `address` as the log shows it.
    public func apply(_ address: String, channel: Channel) -> String {
        guard self == .masked else { return address }
        switch channel {
        case .site:
            return address
        case .mail:
            guard let at = address.lastIndex(of: "@") else { return "***" }
            return String(address.prefix(1)) + "***" + address[at...]
        case .sms:
            let digits = address.count
            guard digits > 8 else { return "***" }
            return String(address.prefix(digits - 8)) + "****" + String(address.suffix(4))
        case .wechatMP, .wechatMini:
            guard address.count > 8 else { return "***" }
            return String(address.prefix(4)) + "***" + String(address.suffix(4))
        }
    }
}

/// A JSON array of flat objects, built byte by byte (nil values are left out): how the
/// PostgreSQL store hands a chunk's rows to one `jsonb_to_recordset` statement, at a fraction of
/// `JSONSerialization`'s cost.
///
/// ```swift
/// var rows = JSONRows()
/// rows.row(); rows.add("id", "m1"); rows.add("row", 1)
/// rows.text   // [{"id":"m1","row":1}]
/// ```
public struct JSONRows {
    private var bytes: [UInt8] = [0x5B]
    private var firstRow = true
    private var firstKey = true

    /// An empty array.
    public init() {}

    /// Starts the next object.
    public mutating func row() {
        if !firstRow { bytes += [0x7D, 0x2C] }
        bytes.append(0x7B)
        firstRow = false
        firstKey = true
    }

    /// A string member.
    public mutating func add(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        JSONObjectWriter.quote(value, into: &bytes)
    }

    /// An integer member.
    public mutating func add(_ key: String, _ value: Int?) {
        guard let value else { return }
        self.key(key)
        bytes += String(value).utf8
    }

    /// A number member (seconds since 1970, say).
    public mutating func add(_ key: String, _ value: Double) {
        self.key(key)
        bytes += "\(value)".utf8
    }

    /// An object of strings, keys sorted.
    public mutating func add(_ key: String, _ value: [String: String]) {
        self.key(key)
        bytes.append(0x7B)
        for (index, name) in value.keys.sorted().enumerated() {
            if index > 0 { bytes.append(0x2C) }
            JSONObjectWriter.quote(name, into: &bytes)
            bytes.append(0x3A)
            JSONObjectWriter.quote(value[name] ?? "", into: &bytes)
        }
        bytes.append(0x7D)
    }

    /// The array's text.
    public var text: String {
        String(decoding: bytes + (firstRow ? [0x5D] : [0x7D, 0x5D]), as: UTF8.self)
    }

    private mutating func key(_ key: String) {
        if !firstKey { bytes.append(0x2C) }
        firstKey = false
        JSONObjectWriter.quote(key, into: &bytes)
        bytes.append(0x3A)
    }
}
