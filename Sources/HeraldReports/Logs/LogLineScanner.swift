import Foundation
import HeraldCore

/// The fields of one `outbox/log/*.jsonl` line that reports use, read straight from its bytes.
///
/// Reports read millions of lines, so this is a small JSON scanner for the log's own shape (one
/// flat object, with `error` and `extra` objects inside), not a general decoder: text fields are
/// byte ranges into the line, turned into strings only when needed.
struct ScannedLine {
    /// Milliseconds since 1970.
    var epochMilliseconds: Int64 = 0
    /// The local calendar day the timestamp names (days since 1970-01-01) and its hour.
    var localDay = 0
    var localHour = 0
    var messageID: Range<Int> = 0..<0
    var file: Range<Int> = 0..<0
    var template: Range<Int> = 0..<0
    var channel: Range<Int> = 0..<0
    var account: Range<Int> = 0..<0
    var status: DeliveryStatus?
    var attempt = 1
    var latencyMicroseconds: Int64?
    var errorCode: Range<Int>?
    var errorMessage: Range<Int>?
    /// A batch note (`"event": "batch"`), not a message: reports pass over it.
    var isBatchNote = false
}

/// Why a line could not be read.
struct LineProblem: Error {
    var reason: String
}

enum LogLineScanner {
    /// Reads `line` (without its newline).
    static func scan(_ line: UnsafeBufferPointer<UInt8>) throws(LineProblem) -> ScannedLine {
        var cursor = Cursor(bytes: line)
        var scanned = ScannedLine()
        var sawTimestamp = false
        let members = try cursor.members(of: "the object") { (cursor: inout Cursor, key: Range<Int>) throws(LineProblem) in
            switch cursor.peek {
            case UInt8(ascii: "\""):
                let value = try cursor.string()
                if cursor.equals(key, "ts") {
                    try readTimestamp(value, in: cursor.bytes, into: &scanned)
                    sawTimestamp = true
                } else if cursor.equals(key, "message_id") {
                    scanned.messageID = value
                } else if cursor.equals(key, "status") {
                    scanned.status = DeliveryStatus(rawValue: cursor.text(value))
                    if scanned.status == nil { throw LineProblem(reason: "unknown status '\(cursor.text(value))'") }
                } else if cursor.equals(key, "template") {
                    scanned.template = value
                } else if cursor.equals(key, "channel") {
                    scanned.channel = value
                } else if cursor.equals(key, "account") {
                    scanned.account = value
                } else if cursor.equals(key, "file") {
                    scanned.file = value
                } else if cursor.equals(key, "event") {
                    scanned.isBatchNote = cursor.equals(value, "batch")
                }
            case UInt8(ascii: "{") where cursor.equals(key, "error"):
                try cursor.members(of: "error") { (cursor: inout Cursor, key: Range<Int>) throws(LineProblem) in
                    guard cursor.peek == UInt8(ascii: "\"") else { return try cursor.skipValue() }
                    let value = try cursor.string()
                    if cursor.equals(key, "code") { scanned.errorCode = value }
                    if cursor.equals(key, "message") { scanned.errorMessage = value }
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                try cursor.skipValue()
            default:
                let value = try cursor.literal()
                if cursor.equals(key, "attempt") {
                    guard let attempt = Int(cursor.text(value)) else { throw LineProblem(reason: "attempt is not a number") }
                    scanned.attempt = attempt
                } else if cursor.equals(key, "latency_ms") {
                    // A hand-edited or hostile log must not trap the conversion below: 10^12 ms is 31 years.
                    guard let milliseconds = Double(cursor.text(value)), milliseconds >= 0, milliseconds < 1e12 else {

                        throw LineProblem(reason: "latency_ms is not a number")
                    }
                    scanned.latencyMicroseconds = Int64((milliseconds * 1000).rounded())
                }
            }
        }
        cursor.skipSpace()
        guard cursor.atEnd else { throw LineProblem(reason: "text after the object") }
        guard members > 0 else { throw LineProblem(reason: "empty object") }
        guard sawTimestamp else { throw LineProblem(reason: "no ts") }
        guard !scanned.messageID.isEmpty else { throw LineProblem(reason: "no message_id") }
        guard scanned.status != nil else { throw LineProblem(reason: "no status") }
        return scanned
    }

    /// `2026-11-27T14:14:17.618+08:00` or `…Z`: the local day and hour as written, and the instant.
    private static func readTimestamp(_ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>,
                                      into scanned: inout ScannedLine) throws(LineProblem) {
        guard let fields = Timestamp.fields(of: UnsafeBufferPointer(rebasing: bytes[range])) else {
            throw LineProblem(reason: "ts is not an ISO 8601 time")
        }
        scanned.epochMilliseconds = fields.epochMilliseconds
        scanned.localDay = fields.localDay
        scanned.localHour = fields.localHour
    }
}

/// A read position in one line.
struct Cursor {
    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var atEnd: Bool { position >= bytes.count }
    var peek: UInt8? { atEnd ? nil : bytes[position] }

    mutating func next() -> UInt8? {
        guard !atEnd else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func skipSpace() {
        while let byte = peek, byte == 0x20 || byte == 0x09 || byte == 0x0D { position += 1 }
    }

    mutating func expect(_ byte: UInt8) throws(LineProblem) {
        guard next() == byte else {
            throw LineProblem(reason: "expected '\(Character(Unicode.Scalar(byte)))' at column \(position)")
        }
    }

    /// A string value's contents (between the quotes, still escaped).
    mutating func string() throws(LineProblem) -> Range<Int> {
        try expect(UInt8(ascii: "\""))
        let start = position
        while let byte = next() {
            if byte == UInt8(ascii: "\"") { return start..<position - 1 }
            if byte == UInt8(ascii: "\\"), next() == nil { break }
        }
        throw LineProblem(reason: "unterminated string")
    }

    /// Reads an object `{"key": value, …}`: `member` is called at each value with its key and
    /// must read the value. Returns how many members there were.
    @discardableResult
    mutating func members(of what: String,
                          _ member: (inout Cursor, Range<Int>) throws(LineProblem) -> Void) throws(LineProblem) -> Int {
        try expect(UInt8(ascii: "{"))
        skipSpace()
        if peek == UInt8(ascii: "}") {
            position += 1
            return 0
        }
        var count = 0
        while true {
            skipSpace()
            let key = try string()
            skipSpace()
            try expect(UInt8(ascii: ":"))
            skipSpace()
            try member(&self, key)
            count += 1
            skipSpace()
            guard let next = next() else { throw LineProblem(reason: "line ends inside \(what)") }
            if next == UInt8(ascii: "}") { return count }
            guard next == UInt8(ascii: ",") else { throw LineProblem(reason: "expected ',' or '}' at column \(position) in \(what)") }
        }
    }

    /// A number, `true`, `false` or `null`.
    mutating func literal() throws(LineProblem) -> Range<Int> {
        let start = position
        while let byte = peek, byte != UInt8(ascii: ","), byte != UInt8(ascii: "}"), byte != UInt8(ascii: "]"), byte > 0x20 {
            position += 1
        }
        guard position > start else {
            throw LineProblem(reason: atEnd ? "line ends before its last value" : "missing value at column \(start)")
        }
        return start..<position
    }

    /// Skips a nested object or array.
    mutating func skipValue() throws(LineProblem) {
        var depth = 0
        repeat {
            switch peek {
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; position += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1; position += 1
            case nil: throw LineProblem(reason: "line ends inside a nested value")
            default: position += 1
            }
        } while depth > 0
    }

    func equals(_ range: Range<Int>, _ key: StaticString) -> Bool {
        guard range.count == key.utf8CodeUnitCount, let base = bytes.baseAddress else { return false }
        return memcmp(base + range.lowerBound, key.utf8Start, range.count) == 0
    }

    /// The bytes of `range` as text, escapes left as written.
    func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// The string value in `range` with its JSON escapes decoded.
    func decoded(_ range: Range<Int>) -> String {
        let raw = UnsafeBufferPointer(rebasing: bytes[range])
        guard raw.contains(UInt8(ascii: "\\")) else { return text(range) }
        var scalars = String.UnicodeScalarView()
        var utf8: [UInt8] = []
        var index = 0
        func flush() {
            scalars.append(contentsOf: String(decoding: utf8, as: UTF8.self).unicodeScalars)
            utf8.removeAll(keepingCapacity: true)
        }
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= raw.count else { return nil }
            return UInt32(String(decoding: UnsafeBufferPointer(rebasing: raw[at..<at + 4]), as: UTF8.self), radix: 16)
        }
        while index < raw.count {
            let byte = raw[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < raw.count else {
                utf8.append(byte)
                index += 1
                continue
            }
            let escape = raw[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "u"):
                guard var code = hex4(index) else { utf8.append(escape); continue }
                index += 4
                if (0xD800..<0xDC00).contains(code), index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"),
                   let low = hex4(index + 2), (0xDC00..<0xE000).contains(low) {
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                flush()
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: utf8.append(escape)
            }
        }
        flush()
        return String(scalars)
    }
}
