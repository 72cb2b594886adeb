import Foundation

/// What one bounce or complaint message says about one recipient of a mail Herald sent: a
/// delivery status notification (RFC 3464, `multipart/report; report-type=delivery-status`) or
/// an abuse report (ARF, RFC 5965, `report-type=feedback-report`).
///
/// ```swift
/// let reports = try DeliveryReportParser().reports(in: Data(contentsOf: url))   // one per recipient field group
/// reports[0].kind          // .hard
/// reports[0].status        // "5.1.1"
/// reports[0].herald        // the 32-hex message id from the VERP address or the Message-ID
/// ```
public struct BounceReport: Sendable, Hashable {
    /// What happened to the mail.
    public enum Kind: String, Sendable, Hashable {
        /// Failed for good (`Action: failed`, status 5.x.x): the address is suppressed.
        case hard
        /// Delayed or failed for now (`Action: delayed`, or status 4.x.x): counted only.
        case soft
        /// The receiving system says it arrived (`Action: delivered`/`relayed`/`expanded`).
        case delivered
        /// The recipient marked it as spam (ARF): the address opts out of marketing mail.
        case complaint
    }

    /// What happened.
    public var kind: Kind
    /// The recipient as the report names it (`Original-Recipient`, else `Final-Recipient`, or ARF's `Original-Rcpt-To`).
    public var recipient: String?
    /// The RFC 3463 status (`5.1.1`), or the ARF feedback type (`abuse`).
    public var status: String
    /// The receiving server's words (`Diagnostic-Code`), when given.
    public var diagnostic: String?
    /// Herald's message id, from the VERP return path (`b+<id>@…`) the report was addressed to.
    public var verpID: String?
    /// Herald's message id, from the returned message's `Message-ID: <id@domain>`.
    public var messageIDHeaderID: String?

    /// The message id the report names: the VERP address first, then the returned Message-ID.
    public var herald: String? { verpID ?? messageIDHeaderID }

    /// A report; parsers build them (HeraldChannels' `DeliveryReportParser` reads them from mail).
    public init(kind: Kind, recipient: String?, status: String, diagnostic: String?, verpID: String?, messageIDHeaderID: String? = nil) {
        self.kind = kind
        self.recipient = recipient
        self.status = status
        self.diagnostic = diagnostic
        self.verpID = verpID
        self.messageIDHeaderID = messageIDHeaderID
    }
}

/// Reads the bounce and complaint reports in one mail message. HeraldChannels' `DeliveryReportParser`
/// reads delivery status notifications and abuse reports; `BounceFiles` and `herald bounces` use it.
public protocol BounceParser: Sendable {
    /// The reports in `message`, one per recipient it names. A message that is not a report is a
    /// `BatchRejection` saying why (it is kept aside with the reason).
    func reports(in message: Data) throws -> [BounceReport]
}
