import Foundation
import HeraldCore

/// Reads delivery status notifications (RFC 3464, `multipart/report; report-type=delivery-status`)
/// and abuse reports (ARF, RFC 5965, `report-type=feedback-report`) into ``BounceReport``s, one per
/// recipient field group. The message id comes from the VERP return path (`b+<32 hex>@…`) the
/// report was addressed to, else from the returned message's `Message-ID`.
///
/// ```swift
/// let reports = try DeliveryReportParser().reports(in: Data(contentsOf: url))
/// reports[0].kind          // .hard
/// reports[0].status        // "5.1.1"
/// reports[0].herald        // the 32-hex message id
/// ```
public struct DeliveryReportParser: BounceParser {
    /// A parser.
    public init() {}

    /// The reports in one message, one per recipient it names. A message that is neither a
    /// delivery status notification nor an abuse report is a `BatchRejection` saying so.
    public func reports(in data: Data) throws -> [BounceReport] {
        try Self.read(data)
    }

    static func read(_ data: Data) throws -> [BounceReport] {
        let message = MailEntity(data)
        let verp = verpID(in: message.headers)
        var found: [BounceReport] = []
        var returnedID: String?
        var sawReport = false
        message.walk { part in
            switch part.contentType.type {
            case "message/delivery-status", "message/global-delivery-status":
                sawReport = true
                found += deliveryStatus(part.body, verp: verp)
            case "message/feedback-report":
                sawReport = true
                found += feedback(part.body, verp: verp)
            case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
                let returned = MailEntity(part.body)
                returnedID = returnedID ?? heraldID(fromMessageID: returned.headers.first("message-id"))
            default:
                break
            }
        }
        guard sawReport else {
            let type = message.contentType.type.isEmpty ? "no Content-Type" : message.contentType.type
            throw BatchRejection(reason: "not a delivery status notification (RFC 3464) or abuse report (RFC 5965): \(type)")
        }
        guard !found.isEmpty else { throw BatchRejection(reason: "the report names no recipient") }
        return found.map { report in
            var report = report
            report.messageIDHeaderID = returnedID
            return report
        }
    }

    /// The per-recipient field groups of a `message/delivery-status` body.
    static func deliveryStatus(_ body: Data, verp: String?) -> [BounceReport] {
        let groups = fieldGroups(body)
        guard groups.count > 1 else { return [] }
        // The per-message group may name the envelope sender (Postfix: X-Postfix-Sender).
        let verp = verp ?? verpID(in: groups[0])
        return groups.dropFirst().compactMap { fields in
            let action = fields.first("action")?.lowercased() ?? ""
            let status = fields.first("status").map(statusCode) ?? ""
            let kind: BounceReport.Kind
            switch action {
            case "failed": kind = status.hasPrefix("4") ? .soft : .hard
            case "delayed": kind = .soft
            case "delivered", "relayed", "expanded": kind = .delivered
            default:
                guard let first = status.first, first == "4" || first == "5" else { return nil }
                kind = first == "5" ? .hard : .soft
            }
            let recipient = (fields.first("original-recipient") ?? fields.first("final-recipient")).map(addressOfTypedField)
            return BounceReport(kind: kind, recipient: recipient, status: status.isEmpty ? action : status,
                                diagnostic: fields.first("diagnostic-code").map(addressOfTypedField), verpID: verp)
        }
    }

    /// The one field group of a `message/feedback-report` body.
    static func feedback(_ body: Data, verp: String?) -> [BounceReport] {
        guard let fields = fieldGroups(body).first else { return [] }
        let verp = verp ?? verpID(in: fields)
        let recipient = fields.first("original-rcpt-to").map(addressOfTypedField)
        return [BounceReport(kind: .complaint, recipient: recipient, status: fields.first("feedback-type")?.lowercased() ?? "abuse",
                             diagnostic: nil, verpID: verp)]
    }

    /// `smtp; 550 5.1.1 …` → `550 5.1.1 …`; `rfc822; li@example.com` → `li@example.com`.
    static func addressOfTypedField(_ value: String) -> String {
        guard let semicolon = value.firstIndex(of: ";") else { return trimmedAddress(value) }
        return trimmedAddress(String(value[value.index(after: semicolon)...]))
    }

    private static func trimmedAddress(_ value: String) -> String {
        value.trimmingCharacters(in: CharacterSet(charactersIn: " \t<>"))
    }

    /// `5.1.1 (user unknown)` → `5.1.1`.
    static func statusCode(_ value: String) -> String {
        String(value.trimmingCharacters(in: .whitespaces).prefix { $0.isNumber || $0 == "." })
    }

    /// The id in a VERP address `b+<32 hex>@…` among the fields a bounce is addressed by.
    static func verpID(in fields: MailHeaders) -> String? {
        for name in ["delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "to", "x-postfix-sender", "original-mail-from"] {
            for value in fields.all(name) {
                if let id = verpID(in: value) { return id }
            }
        }
        return nil
    }

    /// The id of the first `b+<32 hex>@` in `text`.
    static func verpID(in text: String) -> String? {
        let lower = Array(text.lowercased().utf8)
        var index = 0
        while index + 35 <= lower.count {
            if lower[index] == UInt8(ascii: "b"), lower[index + 1] == UInt8(ascii: "+"), lower[index + 34] == UInt8(ascii: "@"),
               (index == 0 || !isLocalPartByte(lower[index - 1])) {
                let hex = lower[(index + 2)..<(index + 34)]
                if hex.allSatisfy(isHex) { return String(decoding: hex, as: UTF8.self) }
            }
            index += 1
        }
        return nil
    }

    /// `<0123…cdef@shop.example.com>` → `0123…cdef` when the local part is Herald's 32-hex id.
    static func heraldID(fromMessageID value: String?) -> String? {
        guard let value else { return nil }
        let inner = trimmedAddress(value)
        guard let at = inner.firstIndex(of: "@") else { return nil }
        let local = inner[..<at].lowercased()
        return local.utf8.count == 32 && local.utf8.allSatisfy(isHex) ? local : nil
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66)
    }

    private static func isLocalPartByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "+")
    }

    /// Header-style field groups separated by blank lines (the body of a delivery-status part).
    static func fieldGroups(_ body: Data) -> [MailHeaders] {
        var groups: [MailHeaders] = []
        var lines: [Substring] = []
        let text = String(decoding: body, as: UTF8.self)
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = line.hasSuffix("\r") ? line.dropLast() : line
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                if !lines.isEmpty { groups.append(MailHeaders(lines)); lines = [] }
            } else {
                lines.append(line)
            }
        }
        if !lines.isEmpty { groups.append(MailHeaders(lines)) }
        return groups
    }
}

/// Header fields of a message or a field group, unfolded, names compared without case.
struct MailHeaders: Sendable {
    var fields: [(name: String, value: String)] = []

    init(_ lines: [Substring]) {
        for line in lines {
            if let first = line.first, first == " " || first == "\t", !fields.isEmpty {
                fields[fields.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((line[..<colon].trimmingCharacters(in: .whitespaces).lowercased(),
                               line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
    }

    /// The first value of field `name` (lowercase).
    func first(_ name: String) -> String? { fields.first { $0.name == name }?.value }
    /// Every value of field `name` (lowercase).
    func all(_ name: String) -> [String] { fields.filter { $0.name == name }.map(\.value) }
}

/// A MIME entity: headers, a content type, a decoded body, and its parts when multipart. Enough
/// of RFC 2045/2046 to find the parts of a report; bodies are bytes, never reinterpreted.
struct MailEntity: Sendable {
    struct ContentType: Sendable {
        var type: String
        var parameters: [String: String]
    }

    var headers: MailHeaders
    var contentType: ContentType
    var body: Data

    init(_ data: Data) {
        let bytes = [UInt8](data)
        var end = bytes.count
        var bodyStart = bytes.count
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                let next = index + 1
                if next < bytes.count, bytes[next] == 0x0A { end = index; bodyStart = next + 1; break }
                if next + 1 < bytes.count, bytes[next] == 0x0D, bytes[next + 1] == 0x0A { end = index; bodyStart = next + 2; break }
            }
            index += 1
        }
        let headerText = String(decoding: bytes[0..<min(end, bytes.count)], as: UTF8.self)
        headers = MailHeaders(headerText.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 })
        contentType = Self.contentType(headers.first("content-type"))
        let raw = bodyStart < bytes.count ? Data(bytes[bodyStart...]) : Data()
        switch headers.first("content-transfer-encoding")?.lowercased() {
        case "base64":
            body = Data(base64Encoded: String(decoding: raw, as: UTF8.self).filter { !$0.isWhitespace }) ?? raw
        case "quoted-printable":
            body = Self.quotedPrintable(raw)
        default:
            body = raw
        }
    }

    /// Calls `visit` with this entity and every part below it (multiparts to depth 8).
    func walk(depth: Int = 0, _ visit: (MailEntity) -> Void) {
        visit(self)
        guard depth < 8, contentType.type.hasPrefix("multipart/"), let boundary = contentType.parameters["boundary"] else { return }
        for part in Self.parts(of: body, boundary: boundary) {
            MailEntity(part).walk(depth: depth + 1, visit)
        }
    }

    /// The parts between `--boundary` lines, up to `--boundary--`.
    static func parts(of body: Data, boundary: String) -> [Data] {
        let delimiter = Array("--\(boundary)".utf8)
        let bytes = [UInt8](body)
        var parts: [Data] = []
        var partStart: Int?
        var lineStart = 0
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            let line = bytes[lineStart..<lineEnd]
            if line.starts(with: delimiter) {
                let rest = line.dropFirst(delimiter.count)
                if let start = partStart {
                    // The line break before a delimiter belongs to the delimiter.
                    var stop = lineStart
                    if stop > start, bytes[stop - 1] == 0x0A { stop -= 1 }
                    if stop > start, bytes[stop - 1] == 0x0D { stop -= 1 }
                    parts.append(Data(bytes[start..<max(start, stop)]))
                }
                if rest.starts(with: [0x2D, 0x2D]) { return parts }
                partStart = lineEnd + 1
            }
            lineStart = lineEnd + 1
        }
        if let start = partStart, start < bytes.count { parts.append(Data(bytes[start...])) }
        return parts
    }

    static func contentType(_ value: String?) -> ContentType {
        guard let value else { return ContentType(type: "text/plain", parameters: [:]) }
        var pieces = splitParameters(value)
        let type = pieces.isEmpty ? "" : pieces.removeFirst().lowercased()
        var parameters: [String: String] = [:]
        for piece in pieces {
            guard let equals = piece.firstIndex(of: "=") else { continue }
            let name = piece[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            var parameter = piece[piece.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if parameter.hasPrefix("\""), parameter.hasSuffix("\""), parameter.count >= 2 {
                parameter = String(parameter.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            }
            parameters[name] = parameter
        }
        return ContentType(type: type, parameters: parameters)
    }

    /// `a; b="x;y"; c` → `["a", "b=\"x;y\"", "c"]`, trimmed.
    private static func splitParameters(_ value: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        for character in value {
            if character == "\"" { quoted.toggle() }
            if character == ";", !quoted {
                pieces.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        pieces.append(current.trimmingCharacters(in: .whitespaces))
        return pieces.filter { !$0.isEmpty }
    }

    static func quotedPrintable(_ raw: Data) -> Data {
        var output: [UInt8] = []
        let bytes = [UInt8](raw)
        var index = 0
        func hex(_ byte: UInt8) -> UInt8? {
            switch byte {
            case 0x30...0x39: byte - 0x30
            case 0x41...0x46: byte - 0x37
            case 0x61...0x66: byte - 0x57
            default: nil
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "="), index + 1 < bytes.count {
                if bytes[index + 1] == 0x0A { index += 2; continue }
                if bytes[index + 1] == 0x0D, index + 2 < bytes.count, bytes[index + 2] == 0x0A { index += 3; continue }
                if index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                    output.append(high << 4 | low)
                    index += 3
                    continue
                }
            }
            output.append(byte)
            index += 1
        }
        return Data(output)
    }
}
