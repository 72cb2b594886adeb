import Foundation

/// A JSON syntax error with the line and column (1-based, in bytes) where it was found.
struct JSONSyntaxError: Error, Hashable {
    var line: Int
    var column: Int
    var reason: String
}

/// Reads a JSON document from a file one byte at a time in 64 KiB blocks, checking its syntax
/// (RFC 8259) as it goes. It skips values or hands back their bytes, so a batch of a million
/// recipients is read one recipient at a time instead of parsed whole.
///
/// ```swift
/// let stream = try JSONStream(url: url)
/// try stream.expect(UInt8(ascii: "{"))
/// let key = try stream.string()          // "recipients"
/// ```
final class JSONStream {
    /// Arrays and objects nested deeper than this are refused (no stack overflow on `[[[[…`).
    static let maximumDepth = 256

    private let handle: FileHandle?
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    /// Bytes consumed before `buffer` starts.
    private var base: UInt64 = 0
    private(set) var line = 1
    private var lineStart: UInt64 = 0
    /// When set, every byte consumed is appended here.
    private var captured: [UInt8]?
    /// The most `captureValue(limit:)` keeps; past it the value is skipped, not held.
    private var captureLimit = Int.max
    private var overflowed = false

    /// Opens `url` and starts reading at `offset` (which is on `line`).
    init(url: URL, offset: UInt64 = 0, line: Int = 1) throws {
        let handle = try FileHandle(forReadingFrom: url)
        if offset > 0 { try handle.seek(toOffset: offset) }
        self.handle = handle
        base = offset
        lineStart = offset
        self.line = line
    }

    /// Reads `data` (a request body) by the same rules as a file.
    init(data: Data) {
        handle = nil
        buffer = Array(data)
        atEnd = true
    }

    deinit {
        try? handle?.close()
    }

    /// Bytes consumed from the start of the file.
    var offset: UInt64 { base + UInt64(position) }

    /// The next byte without consuming it; nil at the end of the file.
    func peek() throws -> UInt8? {
        if position < buffer.count { return buffer[position] }
        guard !atEnd, let handle else { return nil }
        base += UInt64(buffer.count)
        buffer = Array(try handle.read(upToCount: 64 * 1024) ?? Data())
        position = 0
        if buffer.isEmpty { atEnd = true }
        return buffer.first
    }

    /// Consumes and returns the next byte; nil at the end of the file.
    @discardableResult
    func next() throws -> UInt8? {
        guard let byte = try peek() else { return nil }
        position += 1
        if captured != nil {
            captured?.append(byte)
            if captured?.count ?? 0 > captureLimit {
                overflowed = true
                captured?.removeAll(keepingCapacity: true)
            }
        }
        if byte == 0x0A {
            line += 1
            lineStart = offset
        }
        return byte
    }

    /// Skips JSON white space.
    func skipSpace() throws {
        while let byte = try peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 {
            try next()
        }
    }

    /// An error at the current position.
    func error(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(line: line, column: Int(offset - lineStart) + 1, reason: reason)
    }

    /// Consumes `byte` after white space, or throws naming what was found instead.
    func expect(_ byte: UInt8) throws {
        try skipSpace()
        guard let found = try peek() else { throw error("the file ends where '\(Character(Unicode.Scalar(byte)))' is expected") }
        guard found == byte else {
            throw error("expected '\(Character(Unicode.Scalar(byte)))' but found \(describe(found))")
        }
        try next()
    }

    /// After white space, consumes `,` (true: another member follows) or `close` (false), or
    /// throws naming what was found inside `what`.
    func separator(_ close: UInt8, inside what: String) throws -> Bool {
        try skipSpace()
        guard let found = try peek() else { throw error("the file ends inside \(what)") }
        guard found == UInt8(ascii: ",") || found == close else {
            throw error("expected ',' or '\(Character(Unicode.Scalar(close)))' inside \(what) but found \(describe(found))")
        }
        try next()
        return found == UInt8(ascii: ",")
    }

    /// Reads a string (after white space) and returns it decoded.
    func string() throws -> String {
        try skipSpace()
        // Collect the string's bytes; inside a captured value (a recipient) they stay in that capture too.
        let start = captured?.count
        if start == nil { captured = [] }
        try skipString()
        let all = captured ?? []
        let bytes = Array(all[min(start ?? 0, all.count)...])
        if start == nil { captured = nil }
        if overflowed { return "" }  // part of a value too long to keep: its keys do not matter
        // Most keys have no escapes: their bytes between the quotes are the text (already checked UTF-8).
        if !bytes.contains(UInt8(ascii: "\\")) { return String(decoding: bytes.dropFirst().dropLast(), as: UTF8.self) }
        guard let value = try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed) as? String else {
            throw error("a string that cannot be decoded")
        }
        return value
    }

    /// Walks an object (after white space, at its `{`): reads each member's key and hands it to
    /// `value`, which must consume the member's value. `what` names the object in errors.
    func members(inside what: String, _ value: (String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        try skipSpace()
        if try peek() == UInt8(ascii: "}") { try next(); return }
        repeat {
            try skipSpace()
            guard try peek() == UInt8(ascii: "\"") else { throw error("expected a quoted key but found \(describe(try peek()))") }
            let key = try string()
            try expect(UInt8(ascii: ":"))
            try value(key)
        } while try separator(UInt8(ascii: "}"), inside: what)
    }

    /// Walks an array (after white space, at its `[`): `element` must consume each element.
    func elements(inside what: String, _ element: () throws -> Void) throws {
        try expect(UInt8(ascii: "["))
        try skipSpace()
        if try peek() == UInt8(ascii: "]") { try next(); return }
        repeat {
            try element()
        } while try separator(UInt8(ascii: "]"), inside: what)
    }

    /// Consumes one value (after white space) and returns its bytes; nil when it is longer than
    /// `limit` bytes (then it was skipped as it was read, and nothing of it is held).
    func captureValue(limit: Int) throws -> [UInt8]? {
        try skipSpace()
        captured = []
        captureLimit = limit
        overflowed = false
        defer {
            captured = nil
            captureLimit = .max
            overflowed = false
        }
        try skipValue()
        return overflowed ? nil : captured ?? []
    }

    /// Consumes one value (after white space) and returns its bytes.
    func captureValue() throws -> [UInt8] {
        try captureValue(limit: .max) ?? []
    }

    /// Consumes one value (after white space), checking its syntax.
    func skipValue(depth: Int = 0) throws {
        try skipSpace()
        guard let byte = try peek() else { throw error("the file ends where a value is expected") }
        switch byte {
        case UInt8(ascii: "{"):
            guard depth < Self.maximumDepth else { throw error("objects and arrays nested more than \(Self.maximumDepth) deep") }
            try members(inside: "an object") { _ in try skipValue(depth: depth + 1) }
        case UInt8(ascii: "["):
            guard depth < Self.maximumDepth else { throw error("objects and arrays nested more than \(Self.maximumDepth) deep") }
            try elements(inside: "an array") { try skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""):
            try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try skipNumber()
        default:
            throw error("expected a value but found \(describe(byte))")
        }
    }

    private func skipString() throws {
        guard try next() == UInt8(ascii: "\"") else { throw error("expected a string") }
        while true {
            guard let byte = try next() else { throw error("the file ends inside a string") }
            switch byte {
            case UInt8(ascii: "\""):
                return
            case UInt8(ascii: "\\"):
                guard let escaped = try next() else { throw error("the file ends inside a string") }
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    for _ in 0..<4 {
                        guard let hex = try next(), (hex >= 0x30 && hex <= 0x39) || (hex | 0x20 >= 0x61 && hex | 0x20 <= 0x66) else {
                            throw error("\\u must be followed by four hexadecimal digits")
                        }
                    }
                default:
                    throw error("unknown escape \\\(Character(Unicode.Scalar(escaped)))")
                }
            case 0x00..<0x20:
                throw error("a control character inside a string (write it as \\n, \\t or \\u00XX)")
            default:
                break
            }
        }
    }

    private func skipNumber() throws {
        if try peek() == UInt8(ascii: "-") { try next() }
        guard let first = try next(), (0x30...0x39).contains(first) else { throw error("a number needs a digit") }
        if first != 0x30 { try digits() }
        if try peek() == UInt8(ascii: ".") {
            try next()
            guard let digit = try peek(), (0x30...0x39).contains(digit) else { throw error("a digit must follow the decimal point") }
            try digits()
        }
        if let e = try peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            try next()
            if let sign = try peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { try next() }
            guard let digit = try peek(), (0x30...0x39).contains(digit) else { throw error("a digit must follow the exponent") }
            try digits()
        }
    }

    private func digits() throws {
        while let byte = try peek(), (0x30...0x39).contains(byte) { try next() }
    }

    private func literal(_ word: StaticString) throws {
        let bytes = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for expected in bytes {
            guard try peek() == expected else { throw error("expected \(word) but found \(describe(try peek()))") }
            try next()
        }
    }

    private func describe(_ byte: UInt8?) -> String {
        guard let byte else { return "the end of the file" }
        return byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : String(format: "byte 0x%02X", byte)
    }
}

/// The rules every JSON Herald reads is held to, whether dropped as a file or posted to
/// `herald serve`: UTF-8 (strictly), RFC 8259 syntax (no trailing commas, no comments, one value),
/// and no key twice in one object (JSON parsers keep the last silently, so a row saying
/// `"mobile"` twice would send to the one nobody reviewed).
public enum StrictJSON {
    /// Why `data` breaks the rules, or nil.
    public static func problem(in data: Data) -> String? {
        guard String(data: data, encoding: .utf8) != nil else {
            return "the body is not UTF-8 text" + (data.starts(with: [0xFF, 0xFE]) || data.starts(with: [0xFE, 0xFF]) ? " (it looks like UTF-16)" : "")
        }
        let stream = JSONStream(data: data)
        do {
            try stream.skipSpace()
            if try stream.peek() == 0xEF { for _ in 0..<3 { try stream.next() } }  // a UTF-8 BOM
            try stream.skipValue()
            try stream.skipSpace()
            if try stream.peek() != nil { throw stream.error("text after the JSON value") }
        } catch let error as JSONSyntaxError {
            return "not valid JSON: \(error.reason) (line \(error.line), column \(error.column))"
        } catch {
            return "not valid JSON: \(error)"
        }
        return duplicateKeyProblem(in: data)
    }

    /// "the key 'K' appears twice in one object" for the first key repeated in an object of
    /// `bytes` (valid JSON), or nil.
    public static func duplicateKeyProblem(in bytes: some Collection<UInt8>) -> String? {
        var stack: [(object: Bool, keys: Set<String>)] = []
        var expectKey = false
        var index = bytes.startIndex
        while index < bytes.endIndex {
            switch bytes[index] {
            case UInt8(ascii: "{"):
                stack.append((true, []))
                expectKey = true
            case UInt8(ascii: "["):
                stack.append((false, []))
                expectKey = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
                expectKey = false
            case UInt8(ascii: ","):
                expectKey = stack.last?.object ?? false
            case UInt8(ascii: "\""):
                let start = index
                var escaped = false
                index = bytes.index(after: index)
                while index < bytes.endIndex {
                    let byte = bytes[index]
                    if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { break }
                    index = bytes.index(after: index)
                }
                if expectKey, index < bytes.endIndex, !stack.isEmpty {
                    let raw = Data(bytes[start...index])
                    let key = (try? JSONSerialization.jsonObject(with: raw, options: .fragmentsAllowed) as? String)
                        ?? String(decoding: raw.dropFirst().dropLast(), as: UTF8.self)
                    if !stack[stack.count - 1].keys.insert(key).inserted {
                        return "the key \(Echo.quoted(key)) appears twice in one object; write each key once"
                    }
                    expectKey = false
                }
            default:
                break
            }
            guard index < bytes.endIndex else { break }
            index = bytes.index(after: index)
        }
        return nil
    }
}
