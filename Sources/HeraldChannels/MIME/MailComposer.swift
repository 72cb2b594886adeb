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

    /// The message for `mail`, sent by `account` to `recipient`.
    /// `messageID` is Herald's id; the Message-ID header is `<messageID@sender-domain>`.
    public func compose(_ mail: RenderedMail, account: MailAccount, to recipient: MailAddress,
                        messageID: String, date: Date = Date()) -> MIMEMessage {
        let domain = account.from.split(separator: "@").last.map(String.init) ?? "herald.invalid"
        return MIMEMessage(from: MailAddress(account.from, name: mail.nickname), to: [recipient],
                           replyTo: account.replyTo.map { MailAddress($0) },
                           subject: mail.subject, text: mail.text, html: mail.html,
                           date: date, timeZone: timeZone, messageID: "\(messageID)@\(domain)")
    }
}
