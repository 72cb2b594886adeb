/// Where a message stands. Stored in the ledger and written on every log line.
public enum DeliveryStatus: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    /// Handed to the provider (or written by the file transport).
    case sent
    /// The provider's receipt says it arrived.
    case delivered
    /// The provider's receipt says it did not arrive.
    case undelivered
    /// A transient failure; waiting in the spool for a retry.
    case deferred
    /// A permanent failure, or retries exhausted.
    case failed
    /// The row or address did not pass validation, or the template could not render.
    case invalid
    /// Nothing to do: disabled template, or no address for the channel.
    case skipped
    /// Opt-out, suppression list, preference or a per-recipient cap.
    case suppressed
    /// Already handed over in an earlier run (the ledger says so); not sent again.
    /// Appears in summaries only, never in the ledger or the log.
    case duplicate
    /// Held until its `send_at` (or an escalation's time) in the spool; sent then.
    case scheduled
    /// Scheduled, then cancelled (`herald schedule cancel`): never sent.
    case cancelled
    /// Folded into a digest message (its id is in the log line's `extra.digest`).
    case digested

    /// Statuses after which a message must never be sent again by a batch: it went, or it is
    /// waiting in the spool, or it was cancelled or folded into a digest.
    public var isHandedOver: Bool {
        switch self {
        case .sent, .delivered, .undelivered, .deferred, .scheduled, .cancelled, .digested: true
        default: false
        }
    }

    /// The provider has it: `sent`, then possibly `delivered` or `undelivered` by a receipt.
    public var wasSent: Bool {
        switch self {
        case .sent, .delivered, .undelivered: true
        default: false
        }
    }

    /// Statuses that make `herald run` exit 1.
    public var isFailure: Bool { self == .failed || self == .invalid }

    public static func < (lhs: DeliveryStatus, rhs: DeliveryStatus) -> Bool {
        (allCases.firstIndex(of: lhs) ?? 0) < (allCases.firstIndex(of: rhs) ?? 0)
    }
}

/// The stages of the chain, in order. A failure names the stage it happened in.
public enum StageName: String, Sendable, Hashable, CaseIterable, Codable {
    case load
    case validate
    case render
    case rateLimit = "rate-limit"
    case send
    case record
}

/// One public error shape for everything that goes wrong with a row: which stage, which file
/// and line, which recipient row, and why — written as guidance.
///
/// ```swift
/// PipelineError(stage: .validate, file: "orders.csv", line: 4, row: 3, code: .invalidEmail,
///               reason: "email 'li@@example.com' is not a valid address: more than one @")
/// ```
public struct PipelineError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stage that failed.
    public var stage: StageName
    /// The batch file name (or `send` for `herald send`).
    public var file: String
    /// Physical line in the file where the record starts, when known.
    public var line: Int?
    /// Data row number (1 = first recipient), when known.
    public var row: Int?
    /// A short machine-readable code (`invalid_email`, `missing_parameter`, an SMTP reply code…).
    public var code: FailureCode
    /// What went wrong and what to do about it.
    public var reason: String

    /// Creates an error.
    public init(stage: StageName, file: String, line: Int? = nil, row: Int? = nil, code: FailureCode, reason: String) {
        self.stage = stage
        self.file = file
        self.line = line
        self.row = row
        self.code = code
        self.reason = reason
    }

    /// `orders.csv:4: validate: email 'x' is not a valid address`.
    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return "\(place): \(stage.rawValue): \(reason)"
    }
}

/// A failure a stage reports about one delivery, before the pipeline adds where it happened.
public struct StageFailure: Error, Sendable, Hashable {
    /// The status the delivery ends in (`invalid`, `skipped`, `failed`, `suppressed`, `deferred`).
    public var status: DeliveryStatus
    /// A short machine-readable code.
    public var code: FailureCode
    /// What went wrong.
    public var reason: String

    /// Creates a failure.
    public init(_ status: DeliveryStatus, code: FailureCode, _ reason: String) {
        self.status = status
        self.code = code
        self.reason = reason
    }
}

/// Why a row or message did not end `sent`, as a short machine-readable code: one of Herald's
/// own (the static members, one per reason) or a provider's (`550`, `isv.BUSINESS_LIMIT_CONTROL`,
/// `45009`), which pass through as they came.
///
/// ```swift
/// StageFailure(.invalid, code: .invalidEmail, "email 'x' is not a valid address: no @")
/// FailureCode(outcome.code)   // a provider's code
/// ```
public struct FailureCode: RawRepresentable, Sendable, Hashable, ExpressibleByStringInterpolation, CustomStringConvertible {
    /// The code as written in logs and the ledger.
    public let rawValue: String

    /// Wraps a code (a provider's, or one read back from a log).
    public init(rawValue: String) {
        self.rawValue = rawValue
    }

    /// Wraps a code (a provider's, or one read back from a log).
    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// A code written in place (tests, comparisons).
    public init(stringLiteral value: String) {
        self.rawValue = value
    }

    public var description: String { rawValue }

    // time
    /// The `timezone` column names no time zone.
    public static let unknownTimeZone = FailureCode("unknown_time_zone")
    /// The `send_at` value is not a time, or is too far ahead.
    public static let invalidSendAt = FailureCode("invalid_send_at")
    /// A scheduled message was cancelled (`herald schedule cancel`).
    public static let cancelled = FailureCode("cancelled")
    /// The first message was read, delivered or sent in time: its escalation is not sent.
    public static let escalationNotNeeded = FailureCode("escalation_not_needed")
    /// A row of a digest template has no value in the digest's key column.
    public static let noDigestKey = FailureCode("no_digest_key")

    // load
    /// The record could not be read (wrong number of fields, a line that is not JSON).
    public static let unreadableRow = FailureCode("unreadable_row")
    /// The row names no template.
    public static let noTemplate = FailureCode("no_template")
    /// The row names a template that is not in templates/.
    public static let unknownTemplate = FailureCode("unknown_template")
    /// The row asks for a channel that does not exist.
    public static let unknownChannel = FailureCode("unknown_channel")
    /// The row asks for a channel the template has no variant for.
    public static let noVariant = FailureCode("no_variant")
    /// The row (or the channel) has no address.
    public static let noAddress = FailureCode("no_address")
    /// A value holds a control character other than tab and line breaks.
    public static let controlCharacter = FailureCode("control_character")
    /// The batch id was used before with other content.
    public static let idConflict = FailureCode("id_conflict")
    /// The ledger could not be read, so nothing could be sent safely.
    public static let ledgerUnavailable = FailureCode("ledger_unavailable")
    /// Batch notes only: messages already handed over by an earlier run.
    public static let duplicate = FailureCode("duplicate")
    // validate
    /// The template is disabled.
    public static let templateDisabled = FailureCode("template_disabled")
    /// The email address is not valid.
    public static let invalidEmail = FailureCode("invalid_email")
    /// The mobile number is not valid.
    public static let invalidMobile = FailureCode("invalid_mobile")
    /// A required parameter has no value.
    public static let missingParameter = FailureCode("missing_parameter")
    // render
    /// The template could not render.
    public static let renderFailed = FailureCode("render_failed")
    /// A WeChat subscribe-message value breaks its type's rule.
    public static let wechatValue = FailureCode("wechat_value")
    /// An attachment is not in an attachment folder.
    public static let attachmentNotAllowed = FailureCode("attachment_not_allowed")
    /// An attachment does not exist or is not a regular file.
    public static let attachmentMissing = FailureCode("attachment_missing")
    /// The message with its attachments is over the account's max_size.
    public static let messageTooLarge = FailureCode("message_too_large")
    /// The provider took the whole message and its answer was lost: it may have been delivered.
    public static let outcomeUnknown = FailureCode("outcome_unknown")
    /// The unsubscribe link is not an absolute http(s) or mailto URL.
    public static let invalidUnsubscribeURL = FailureCode("invalid_unsubscribe_url")
    // rate-limit
    /// An opt-out, a preference or the suppression list.
    public static let suppressed = FailureCode("suppressed")
    /// A per-recipient cap.
    public static let recipientCap = FailureCode("recipient_cap")
    /// Quiet hours for the category.
    public static let quietHours = FailureCode("quiet_hours")
    // send
    /// herald.yaml defines no transport for the message's account, channel or app.
    public static let noTransport = FailureCode("no_transport")
    /// The account's rate allows the message only later than a run waits.
    public static let rateLimited = FailureCode("rate_limited")
    /// The account sent its `daily_quota` today.
    public static let quotaExceeded = FailureCode("quota_exceeded")
    /// The transport was paused after failing too often in a row.
    public static let transportPaused = FailureCode("transport_paused")
    /// A transient failure without a provider code.
    public static let transient = FailureCode("transient")
    /// A permanent failure without a provider code.
    public static let permanent = FailureCode("permanent")
}
