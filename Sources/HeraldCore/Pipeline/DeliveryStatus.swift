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

    /// Statuses after which a message must never be sent again.
    public var isHandedOver: Bool {
        switch self {
        case .sent, .delivered, .undelivered, .deferred: true
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
/// PipelineError(stage: .validate, file: "orders.csv", line: 4, row: 3, code: "invalid_email",
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
    public var code: String
    /// What went wrong and what to do about it.
    public var reason: String

    /// Creates an error.
    public init(stage: StageName, file: String, line: Int? = nil, row: Int? = nil, code: String, reason: String) {
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
    public var code: String
    /// What went wrong.
    public var reason: String

    /// Creates a failure.
    public init(_ status: DeliveryStatus, code: String, _ reason: String) {
        self.status = status
        self.code = code
        self.reason = reason
    }
}
