import Foundation

/// One CSV record: its fields and where it starts.
public struct CSVRecord: Sendable, Hashable {
    /// Field values in column order.
    public var fields: [String]
    /// Physical line (from 1) where the record starts.
    public var line: Int
    /// Set when the record breaks RFC 4180 (text after a closing quote, a quote never closed).
    public var problem: String?

    /// Creates a record.
    public init(fields: [String], line: Int, problem: String? = nil) {
        self.fields = fields
        self.line = line
        self.problem = problem
    }
}

/// Why a CSV file cannot be read on at all.
public struct CSVReadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The line where reading stopped.
    public var line: Int
    /// What was wrong.
    public var reason: String

    public var description: String { "line \(line): \(reason)" }

    /// Creates an error.
    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }
}

/// A streaming RFC 4180 reader: a byte-level state machine over 64 KiB reads, so memory stays
/// flat whatever the file's size. Quoted fields may hold commas, doubled quotes and line breaks;
/// CRLF, LF and CR line endings are accepted; a UTF-8 BOM is skipped; fields are decoded as
/// UTF-8 strictly (invalid bytes are an error, never replaced).
///
/// ```swift
/// let reader = try CSVReader(url: url)
/// while let record = try reader.next() { print(record.line, record.fields) }
/// ```
public final class CSVReader {
    /// The longest record kept (1 MiB): a longer one is skipped to its end as it is read, never
    /// held, and comes back empty with a problem, so a 1 GB field costs a scan, not 1 GB.
    public static let largestRecord = 1 << 20

    private let handle: FileHandle
    private var buffer: [UInt8]
    private var count = 0
    private var position = 0
    private var atEnd = false
    private var line = 1
    private var afterCR = false
    private var field: [UInt8] = []
    /// Bytes consumed so far (for progress).
    public private(set) var bytesRead = 0

    /// Opens `url` for reading.
    public init(url: URL, bufferSize: Int = 64 * 1024) throws {
        handle = try FileHandle(forReadingFrom: url)
        buffer = [UInt8](repeating: 0, count: bufferSize)
        field.reserveCapacity(256)
        try fill()
        if count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { position = 3 }
    }

    deinit {
        try? handle.close()
    }

    private func fill() throws {
        let fd = handle.fileDescriptor
        let got = buffer.withUnsafeMutableBytes { raw in
            read(fd, raw.baseAddress, raw.count)
        }
        guard got >= 0 else { throw CSVReadError(line: line, reason: "read failed: errno \(errno)") }
        count = got
        position = 0
        bytesRead += got
        if got == 0 { atEnd = true }
    }

    private enum State {
        case fieldStart
        case unquoted
        case quoted
        case quoteInQuoted
    }

    /// The next record, or nil at the end of the file. Blank lines are skipped.
    public func next() throws -> CSVRecord? {
        while true {
            guard let record = try nextRaw() else { return nil }
            if record.fields.count == 1 && record.fields[0].isEmpty && record.problem == nil { continue }
            return record
        }
    }

    private func nextRaw() throws -> CSVRecord? {
        var fields: [String] = []
        var state = State.fieldStart
        var problem: String?
        var startLine = line
        var started = false
        var kept = 0
        var oversized: Int?
        field.removeAll(keepingCapacity: true)

        /// Drops what was read of the record once it is over the limit.
        func bound() {
            if oversized == nil, kept + field.count > Self.largestRecord { oversized = fields.count + 1 }
            if oversized != nil { field.removeAll(keepingCapacity: true) }
        }
        func endField() throws {
            if oversized != nil {
                fields.append("")
                return
            }
            guard let value = String(validating: field, as: UTF8.self) else {
                throw CSVReadError(line: line, reason: "not valid UTF-8 (is the file saved as GBK or Excel's ANSI? save it as UTF-8)")
            }
            kept += field.count
            fields.append(value)
            field.removeAll(keepingCapacity: true)
        }
        func tooLong() -> String? {
            oversized.map { "field \($0) makes this row longer than \(Self.largestRecord >> 20) MB; rows are read up to \(Self.largestRecord >> 20) MB" }
        }

        while true {
            if position == count {
                if atEnd { break }
                try fill()
                if atEnd { break }
            }
            let byte = buffer[position]
            position += 1
            if afterCR {
                afterCR = false
                if byte == 0x0A { continue }
            }
            if !started {
                started = true
                startLine = line
            }
            switch state {
            case .fieldStart, .unquoted:
                switch byte {
                case 0x2C: // ,
                    try endField()
                    state = .fieldStart
                case 0x0A, 0x0D:
                    try endField()
                    line += 1
                    afterCR = byte == 0x0D
                    return CSVRecord(fields: fields, line: startLine, problem: tooLong() ?? problem)
                case 0x22 where state == .fieldStart:
                    state = .quoted
                default:
                    field.append(byte)
                    state = .unquoted
                    // The rest of the field up to its delimiter, in one go.
                    let end = buffer.withUnsafeBufferPointer { bytes -> Int in
                        var index = position
                        while index < count, bytes[index] != 0x2C, bytes[index] != 0x0A, bytes[index] != 0x0D { index += 1 }
                        return index
                    }
                    field.append(contentsOf: buffer[position..<end])
                    position = end
                    bound()
                }
            case .quoted:
                if byte == 0x22 {
                    state = .quoteInQuoted
                } else {
                    if byte == 0x0A { line += 1 }
                    field.append(byte)
                    // The rest of the quoted text up to the next quote, counting its lines.
                    var lines = 0
                    let end = buffer.withUnsafeBufferPointer { bytes -> Int in
                        var index = position
                        while index < count, bytes[index] != 0x22 {
                            if bytes[index] == 0x0A { lines += 1 }
                            index += 1
                        }
                        return index
                    }
                    line += lines
                    field.append(contentsOf: buffer[position..<end])
                    position = end
                    bound()
                }
            case .quoteInQuoted:
                switch byte {
                case 0x22:
                    field.append(0x22)
                    state = .quoted
                case 0x2C, 0x0A, 0x0D:
                    // The quoted field ended; the delimiter is handled as after any field.
                    state = .unquoted
                    position -= 1
                default:
                    problem = problem ?? "text after a closing quote in field \(fields.count + 1); double a quote inside a quoted field (\"\")"
                    field.append(byte)
                    state = .unquoted
                }
            }
        }
        guard started else { return nil }
        if state == .quoted {
            problem = problem ?? "a quoted field starting on this line is never closed"
        }
        try endField()
        return CSVRecord(fields: fields, line: startLine, problem: tooLong() ?? problem)
    }
}

/// One field of a CSV line Herald writes (RFC 4180): quoted when it holds a comma, a quote or a
/// line break, so a value stays one field of one line whatever it contains.
public enum CSVField {
    /// `value` as a field: as it is, or in quotes with its quotes doubled.
    public static func quoted(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
