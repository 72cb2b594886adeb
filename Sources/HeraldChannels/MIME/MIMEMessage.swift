import Foundation
import HeraldCore

/// An RFC 5322 message with a UTF-8 text body, an HTML body, or both as
/// `multipart/alternative`; headers RFC 2047-encoded where needed; CRLF line endings.
///
/// ```swift
/// let message = MIMEMessage(from: MailAddress("shop@example.com", name: "商城客服"),
///                           to: [MailAddress("li@example.com")], subject: "订单已发货",
///                           text: "您的订单已发货。", html: "<p>您的订单已发货。</p>",
///                           messageID: "a1b2@example.com")
/// let wire: String = message.rendered()
/// ```
public struct MIMEMessage: Sendable, Hashable {
    /// The sender.
    public var from: MailAddress
    /// The recipients in `To:`.
    public var to: [MailAddress]
    /// The recipients in `Cc:`.
    public var cc: [MailAddress]
    /// Where replies go.
    public var replyTo: MailAddress?
    /// The subject (RFC 2047-encoded when not ASCII).
    public var subject: String
    /// The plain-text body.
    public var text: String?
    /// The HTML body.
    public var html: String?
    /// The `Date:` header.
    public var date: Date
    /// Time zone the Date header is written in.
    public var timeZone: TimeZone
    /// The Message-ID without angle brackets, `local@domain`.
    public var messageID: String
    /// Further headers, ASCII values (`List-Unsubscribe`, `X-Herald-Message-Id`).
    public var extraHeaders: [(name: String, value: String)]
    /// The multipart boundary; `=_` cannot occur in base64 or quoted-printable text.
    public var boundary: String
    /// Files attached after the body.
    public var attachments: [MIMEAttachment]

    /// Creates a message. Give `text`, `html` or both.
    public init(from: MailAddress, to: [MailAddress], cc: [MailAddress] = [], replyTo: MailAddress? = nil,
                subject: String, text: String?, html: String?, date: Date = Date(),
                timeZone: TimeZone = .current, messageID: String,
                extraHeaders: [(name: String, value: String)] = [], boundary: String? = nil,
                attachments: [MIMEAttachment] = []) {
        self.attachments = attachments
        self.from = from
        self.to = to
        self.cc = cc
        self.replyTo = replyTo
        self.subject = subject
        self.text = text
        self.html = html
        self.date = date
        self.timeZone = timeZone
        self.messageID = messageID
        self.extraHeaders = extraHeaders
        self.boundary = boundary ?? "=_herald_" + String(UInt64.random(in: .min ... .max), radix: 16)
    }

    public static func == (lhs: MIMEMessage, rhs: MIMEMessage) -> Bool {
        lhs.rendered() == rhs.rendered()
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rendered())
    }

    /// The message as sent on the wire: its lines joined by CRLF.
    public func rendered() -> String {
        var lines = Lines()
        lines.append("Date: " + Self.rfc5322Date(date, timeZone: timeZone))
        lines.append("From: " + HeaderEncoding.mailbox(from, lineUsed: 6))
        if !to.isEmpty { lines.append(addressList("To", to)) }
        if !cc.isEmpty { lines.append(addressList("Cc", cc)) }
        if let replyTo { lines.append("Reply-To: " + HeaderEncoding.mailbox(replyTo, lineUsed: 10)) }
        lines.append("Message-ID: <\(messageID)>")
        lines.append(HeaderEncoding.header("Subject", subject))
        lines.append("MIME-Version: 1.0")
        for header in extraHeaders {
            lines.append(HeaderEncoding.header(header.name, header.value))
        }
        if attachments.isEmpty {
            body(boundary: boundary, into: &lines)
        } else {
            let mixed = boundary + "_mixed"
            lines.append("Content-Type: multipart/mixed; boundary=\"\(mixed)\"")
            lines.append("")
            lines.append("This is a multi-part message in MIME format.")
            lines.append("--\(mixed)")
            body(boundary: boundary, into: &lines)
            for attachment in attachments {
                lines.append("--\(mixed)")
                for line in attachment.part() { lines.append(line) }
            }
            lines.append("--\(mixed)--")
            lines.append("")
        }
        return lines.text
    }

    /// Lines joined by CRLF as they are added, into one growing string.
    private struct Lines {
        var text = ""
        private var first = true

        init() {
            text.reserveCapacity(4096)
        }

        mutating func append(_ line: String) {
            if first { first = false } else { text += "\r\n" }
            text += line
        }
    }

    /// The text and HTML bodies: `multipart/alternative` when both exist.
    private func body(boundary: String, into lines: inout Lines) {
        switch (text, html) {
        case let (text?, html?):
            lines.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            lines.append("")
            if attachments.isEmpty { lines.append("This is a multi-part message in MIME format.") }
            for (subtype, body) in [("plain", text), ("html", html)] {
                lines.append("--\(boundary)")
                Self.part(subtype: subtype, body: body, into: &lines)
            }
            lines.append("--\(boundary)--")
            lines.append("")
        case let (text?, nil):
            Self.part(subtype: "plain", body: text, into: &lines)
        case let (nil, html?):
            Self.part(subtype: "html", body: html, into: &lines)
        case (nil, nil):
            Self.part(subtype: "plain", body: "", into: &lines)
        }
    }

    /// The message as bytes.
    public var data: Data { Data(rendered().utf8) }

    private func addressList(_ name: String, _ addresses: [MailAddress]) -> String {
        let lead = name.count + 2
        return "\(name): " + addresses.enumerated().map { index, address in
            HeaderEncoding.mailbox(address, lineUsed: index == 0 ? lead : 1)
        }.joined(separator: ",\r\n ")
    }

    private static func part(subtype: String, body: String, into lines: inout Lines) {
        let encoding = BodyEncoding.choose(for: body)
        lines.append("Content-Type: text/\(subtype); charset=UTF-8")
        lines.append("Content-Transfer-Encoding: \(encoding.rawValue)")
        lines.append("")
        lines.append(encoding.encode(body))
    }

    /// `Fri, 27 Nov 2026 13:01:55 +0800`.
    public static func rfc5322Date(_ date: Date, timeZone: TimeZone) -> String {
        Timestamp.rfc5322(date, timeZone: timeZone)
    }
}

/// A file attached to a message: base64 body, file name per RFC 2231 (so Chinese names survive)
/// and, for older clients, an RFC 2047 `name` on the Content-Type.
public struct MIMEAttachment: Sendable, Hashable {
    /// The file name shown to the reader.
    public var fileName: String
    /// MIME type, e.g. `application/pdf`.
    public var contentType: String
    /// The bytes.
    public var data: Data

    /// Creates an attachment; the type is guessed from the file name when not given.
    public init(fileName: String, data: Data, contentType: String? = nil) {
        self.fileName = fileName
        self.data = data
        self.contentType = contentType ?? Self.guessType(fileName)
    }

    func part() -> [String] {
        var lines: [String] = []
        if HeaderEncoding.needsEncoding(fileName) || fileName.contains("\"") {
            lines.append("Content-Type: \(contentType);\r\n name=\"\(HeaderEncoding.encodedWords(fileName, firstLineUsed: 7).joined(separator: " "))\"")
            lines.append("Content-Disposition: attachment;\r\n " + Self.rfc2231(fileName).joined(separator: ";\r\n "))
        } else {
            lines.append("Content-Type: \(contentType); name=\"\(fileName)\"")
            lines.append("Content-Disposition: attachment; filename=\"\(fileName)\"")
        }
        lines.append("Content-Transfer-Encoding: base64")
        lines.append("")
        lines.append(BodyEncoding.base64(data))
        return lines
    }

    /// `filename*0*=UTF-8''%E5%8F%91…` continuations of at most ~60 characters each.
    static func rfc2231(_ name: String) -> [String] {
        var encoded: [String] = []
        for byte in name.utf8 {
            let scalar = Unicode.Scalar(byte)
            if byte < 0x80, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-._~".unicodeScalars.contains(scalar) {
                encoded.append(String(scalar))
            } else {
                encoded.append(String(format: "%%%02X", byte))
            }
        }
        var chunks: [String] = []
        var current = ""
        for piece in encoded {
            if current.count + piece.count > 60 {
                chunks.append(current)
                current = ""
            }
            current += piece
        }
        chunks.append(current)
        if chunks.count == 1 { return ["filename*=UTF-8''\(chunks[0])"] }
        return chunks.enumerated().map { index, chunk in
            index == 0 ? "filename*0*=UTF-8''\(chunk)" : "filename*\(index)*=\(chunk)"
        }
    }

    static func guessType(_ name: String) -> String {
        switch (name as NSString).pathExtension.lowercased() {
        case "pdf": "application/pdf"
        case "png": "image/png"
        case "jpg", "jpeg": "image/jpeg"
        case "gif": "image/gif"
        case "txt": "text/plain; charset=UTF-8"
        case "csv": "text/csv; charset=UTF-8"
        case "html", "htm": "text/html; charset=UTF-8"
        case "zip": "application/zip"
        case "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        case "ics": "text/calendar; charset=UTF-8"
        default: "application/octet-stream"
        }
    }
}
