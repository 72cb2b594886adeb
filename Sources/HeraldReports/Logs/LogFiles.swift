import Foundation
import HeraldCore

/// The days a report covers, in the workspace's time zone: one day, or `first...last`.
///
/// ```swift
/// let period = try ReportPeriod(since: "2026-11-01", until: "2026-11-27")
/// period.days.count   // 27
/// ```
public struct ReportPeriod: Sendable, Hashable, CustomStringConvertible {
    /// First day, as days since 1970-01-01.
    public let first: Int
    /// Last day, as days since 1970-01-01.
    public let last: Int

    /// A period of whole days; `last` must not be before `first`.
    public init(first: Int, last: Int) {
        self.first = first
        self.last = max(first, last)
    }

    /// One day.
    public init(day: Int) { self.init(first: day, last: day) }

    /// Reads `2026-11-27`, `today` or `yesterday` (relative to `now` in `timeZone`).
    public static func day(_ text: String, now: Date = Date(), timeZone: TimeZone) throws -> Int {
        let today = Timestamp.days(localDayOf: now, timeZone: timeZone)
        switch text {
        case "today": return today
        case "yesterday": return today - 1
        default:
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
                  let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
                  (1...12).contains(month), (1...31).contains(day) else {
                throw ReportError("'\(text)' is not a day; write YYYY-MM-DD, today or yesterday")
            }
            let number = Timestamp.days(year: year, month: month, day: day)
            guard Timestamp.day(number: number) == text else { throw ReportError("'\(text)' is not a calendar day") }
            return number
        }
    }

    /// Every day of the period, first to last.
    public var days: ClosedRange<Int> { first...last }

    /// The period of the same length just before this one (for day-over-day change).
    public var previous: ReportPeriod { ReportPeriod(first: first - days.count, last: first - 1) }

    /// `2026-11-27`, or `2026-11-01_2026-11-27` for a range: names the report's folder.
    public var name: String {
        first == last ? Timestamp.day(number: first) : "\(Timestamp.day(number: first))_\(Timestamp.day(number: last))"
    }

    /// `2026-11-27` or `2026-11-01 – 2026-11-27`.
    public var description: String {
        first == last ? Timestamp.day(number: first) : "\(Timestamp.day(number: first)) – \(Timestamp.day(number: last))"
    }
}

/// A report could not be made; the message says why.
public struct ReportError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public var description: String
    /// Creates an error.
    public init(_ description: String) { self.description = description }
}

/// Reads a JSON-lines file line by line in large blocks, without holding the file.
enum LogFiles {
    /// Calls `body` with each complete line (without its newline) from byte `offset` on, and its
    /// number counted from there; returns the offset just past the last one. A last line
    /// without its newline is still being written: it is left for the next read.
    static func forEachLine(at url: URL, from offset: Int64 = 0,
                            _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws -> Int64 {
        let descriptor = open(url.path, O_RDONLY)
        guard descriptor >= 0 else { throw ReportError("cannot read \(url.path): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        if offset > 0, lseek(descriptor, off_t(offset), SEEK_SET) < 0 {
            throw ReportError("cannot read \(url.path): \(String(cString: strerror(errno)))")
        }
        var consumed = offset
        var blockStart = offset
        let blockSize = 1 << 20
        var block = [UInt8](repeating: 0, count: blockSize)
        var carry: [UInt8] = []
        var lineNumber = 0
        while true {
            let count = block.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, blockSize) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReportError("cannot read \(url.path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            defer { blockStart += Int64(count) }
            try block.withUnsafeBufferPointer { buffer in
                var start = 0
                for index in 0..<count where buffer[index] == 0x0A {
                    lineNumber += 1
                    if carry.isEmpty {
                        try body(UnsafeBufferPointer(rebasing: buffer[start..<index]), lineNumber)
                    } else {
                        carry.append(contentsOf: buffer[start..<index])
                        try carry.withUnsafeBufferPointer { try body($0, lineNumber) }
                        carry.removeAll(keepingCapacity: true)
                    }
                    start = index + 1
                    consumed = blockStart + Int64(start)
                }
                carry.append(contentsOf: buffer[start..<count])
            }
        }
        return consumed
    }

    /// The size of a file in bytes (0 when it cannot be read).
    static func size(of url: URL) -> Int64 {
        ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.int64Value ?? 0
    }
}
