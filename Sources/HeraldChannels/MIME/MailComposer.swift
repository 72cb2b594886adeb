import Foundation
import HeraldCore

/// Builds the MIME message for a rendered mail: sender from the account, display name from
/// the template's nickname, a Message-ID on the sender's domain.
public struct MailComposer: Sendable {
    /// Time zone for the Date header.
    public var timeZone: TimeZone

    /// Creates a composer.
    public init(timeZone: TimeZone) {
        self.timeZone = timeZone
    }

    /// The message for `mail`, sent by `account` to `recipient`, with `extras.cc` in the Cc
    /// header (bcc never appears). Attachments are read from `root`.
    /// `messageID` is Herald's id; the Message-ID header is `<messageID@sender-domain>`.
    public func compose(_ mail: RenderedMail, account: MailAccount, to recipient: MailAddress,
                        extras: MailExtras = MailExtras(), root: URL? = nil,
                        messageID: String, date: Date = Date()) throws -> MIMEMessage {
        let domain = account.from.split(separator: "@").last.map(String.init) ?? "herald.invalid"
        var headers: [(name: String, value: String)] = []
        if let unsubscribe = mail.unsubscribe {
            headers.append(("List-Unsubscribe", "<\(unsubscribe)>"))
            headers.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        }
        let attachments = try mail.attachments.map { path -> MIMEAttachment in
            let base = root ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : base.appendingPathComponent(path)
            return MIMEAttachment(fileName: url.lastPathComponent, data: try Data(contentsOf: url))
        }
        return MIMEMessage(from: MailAddress(account.from, name: mail.nickname), to: [recipient],
                           cc: extras.cc.map { MailAddress($0) },
                           replyTo: account.replyTo.map { MailAddress($0) },
                           subject: mail.subject, text: mail.text, html: mail.html,
                           date: date, timeZone: timeZone, messageID: "\(messageID)@\(domain)",
                           extraHeaders: headers, attachments: attachments)
    }

    /// The Message-ID header value (with angle brackets) `compose` gives a message.
    public static func messageIDHeader(_ messageID: String, account: MailAccount) -> String {
        let domain = account.from.split(separator: "@").last.map(String.init) ?? "herald.invalid"
        return "<\(messageID)@\(domain)>"
    }
}
