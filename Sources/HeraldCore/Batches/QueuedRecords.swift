import Foundation

/// The compact form of a chunk's records in the shared queue: fields in a fixed order, strings as
/// a length and their UTF-8 bytes, numbers as variable-length integers. About a third of the size
/// of their JSON and an order of magnitude cheaper to write and read than `Codable` JSON.
///
/// ```swift
/// let bytes = QueuedRecords.encode(records)
/// let again = try QueuedRecords.decode(bytes)   // == records
/// ```
///
/// A field added to `RecipientRow`, `Recipient` or `MailExtras` must be added here too (a test
/// counts their stored properties and fails until it is); the first byte is the version, so a
/// queue written by an older Herald stays readable.
public enum QueuedRecords {
    /// The format written: 2 adds `wecom_user`, `dingtalk_user` and `feishu_user` after `send_at`; 1 (without them) is still read.
    static let version: UInt8 = 2

    /// `records` in the compact form.
    public static func encode(_ records: [BatchRecord]) -> [UInt8] {
        var writer = Writer()
        writer.bytes.reserveCapacity(records.count * 160)
        writer.bytes.append(version)
        writer.int(records.count)
        for record in records {
            switch record {
            case let .row(row):
                writer.bytes.append(0)
                writer.row(row)
            case let .unreadable(row, line, reason):
                writer.bytes.append(1)
                writer.int(row)
                writer.optionalInt(line)
                writer.string(reason)
            }
        }
        return writer.bytes
    }

    /// The records of a compact form; throws `QueuedRecordsError` on bytes it cannot read.
    public static func decode<Bytes: Collection>(_ bytes: Bytes) throws -> [BatchRecord] where Bytes.Element == UInt8 {
        try Array(bytes).withUnsafeBufferPointer { buffer in
            var reader = Reader(buffer: buffer)
            let written = try reader.byte()
            guard written == 1 || written == version else { throw QueuedRecordsError("unknown queue record version \(written)") }
            reader.version = written
            let count = try reader.int()
            var records: [BatchRecord] = []
            records.reserveCapacity(min(count, 1 << 16))
            for _ in 0..<count {
                switch try reader.byte() {
                case 0: records.append(.row(try reader.row()))
                case 1: records.append(.unreadable(row: try reader.int(), line: try reader.optionalInt(), reason: try reader.string()))
                case let tag: throw QueuedRecordsError("unknown record tag \(tag)")
                }
            }
            guard reader.offset == buffer.count else { throw QueuedRecordsError("\(buffer.count - reader.offset) bytes after the last record") }
            return records
        }
    }

    private struct Writer {
        var bytes: [UInt8] = []

        mutating func int(_ value: Int) {
            // Zig-zag, then 7 bits a byte: small numbers of either sign take one byte.
            var rest = UInt64(bitPattern: Int64((value << 1) ^ (value >> 63)))
            while rest >= 0x80 {
                bytes.append(UInt8(rest & 0x7F) | 0x80)
                rest >>= 7
            }
            bytes.append(UInt8(rest))
        }

        mutating func optionalInt(_ value: Int?) {
            guard let value else { return bytes.append(0) }
            bytes.append(1)
            int(value)
        }

        mutating func string(_ value: String) {
            var value = value
            value.withUTF8 { utf8 in
                int(utf8.count)
                bytes.append(contentsOf: utf8)
            }
        }

        mutating func optionalString(_ value: String?) {
            guard let value else { return bytes.append(0) }
            bytes.append(1)
            string(value)
        }

        mutating func strings(_ values: [String]) {
            int(values.count)
            for value in values { string(value) }
        }

        mutating func row(_ row: RecipientRow) {
            int(row.row)
            optionalInt(row.line)
            optionalString(row.template)
            if let channels = row.channels {
                bytes.append(1)
                strings(channels)
            } else {
                bytes.append(0)
            }
            let r = row.recipient
            for field in [r.userID, r.userType, r.tenantID, r.email, r.mobile, r.openID, r.miniOpenID, r.locale, r.timeZone] {
                optionalString(field)
            }
            int(row.parameters.count)
            for (name, value) in row.parameters {
                string(name)
                string(value)
            }
            strings(row.mail.cc)
            strings(row.mail.bcc)
            strings(row.mail.attachments)
            optionalString(row.mail.unsubscribeURL)
            optionalString(row.sendAt)
            optionalString(row.recipient.wecomUser)
            optionalString(row.recipient.dingtalkUser)
            optionalString(row.recipient.feishuUser)
        }
    }

    private struct Reader {
        let buffer: UnsafeBufferPointer<UInt8>
        var offset = 0
        /// The version the bytes were written in.
        var version = QueuedRecords.version

        init(buffer: UnsafeBufferPointer<UInt8>) {
            self.buffer = buffer
        }

        mutating func byte() throws -> UInt8 {
            guard offset < buffer.count else { throw QueuedRecordsError("cut short at byte \(offset)") }
            defer { offset += 1 }
            return buffer[offset]
        }

        mutating func int() throws -> Int {
            var value: UInt64 = 0, shift: UInt64 = 0
            while true {
                let byte = try self.byte()
                guard shift < 64 else { throw QueuedRecordsError("a number past 64 bits at byte \(offset)") }
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { break }
                shift += 7
            }
            return Int(Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1))))
        }

        mutating func optionalInt() throws -> Int? {
            try byte() == 0 ? nil : try int()
        }

        mutating func string() throws -> String {
            let count = try int()
            guard count >= 0, count <= buffer.count - offset else { throw QueuedRecordsError("a string of \(count) bytes past the end") }
            defer { offset += count }
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[offset..<offset + count]), as: UTF8.self)
        }

        mutating func optionalString() throws -> String? {
            try byte() == 0 ? nil : try string()
        }

        mutating func strings() throws -> [String] {
            let count = try int()
            guard count >= 0, count <= buffer.count - offset else { throw QueuedRecordsError("a list of \(count) past the end") }
            var values: [String] = []
            values.reserveCapacity(count)
            for _ in 0..<count { values.append(try string()) }
            return values
        }

        mutating func row() throws -> RecipientRow {
            var row = RecipientRow(row: try int(), line: try optionalInt(), template: try optionalString())
            row.channels = try byte() == 0 ? nil : try strings()
            row.recipient = Recipient(userID: try optionalString(), userType: try optionalString(), tenantID: try optionalString(),
                                      email: try optionalString(), mobile: try optionalString(), openID: try optionalString(),
                                      miniOpenID: try optionalString(), locale: try optionalString(), timeZone: try optionalString())
            let count = try int()
            guard count >= 0, count <= buffer.count - offset else { throw QueuedRecordsError("\(count) parameters past the end") }
            row.parameters.reserveCapacity(count)
            for _ in 0..<count {
                let name = try string()
                row.parameters[name] = try string()
            }
            row.mail = MailExtras(cc: try strings(), bcc: try strings(), attachments: try strings(), unsubscribeURL: try optionalString())
            row.sendAt = try optionalString()
            if version >= 2 {
                row.recipient.wecomUser = try optionalString()
                row.recipient.dingtalkUser = try optionalString()
                row.recipient.feishuUser = try optionalString()
            }
            return row
        }
    }
}

/// Queue record bytes that cannot be read (a corrupt row, or a newer Herald's format).
public struct QueuedRecordsError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var description: String

    init(_ description: String) {
        self.description = "queued records: " + description
    }
}
