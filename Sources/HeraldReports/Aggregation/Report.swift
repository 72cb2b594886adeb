import Foundation
import HeraldCore

/// Messages counted once each, at their final status in the period.
///
/// `sent` counts every message handed to its provider, including those a receipt later marked
/// `delivered` or `undelivered`; so `total = sent + failed + invalid + suppressed + skipped + deferred`.
public struct StatusCounts: Sendable, Hashable, Codable {
    /// Messages with a line in the period.
    public var total = 0
    /// Handed over (final status sent, delivered or undelivered).
    public var sent = 0
    /// The receipt says it arrived.
    public var delivered = 0
    /// The receipt says it did not arrive.
    public var undelivered = 0
    /// Of `undelivered`, the mail messages a bounce came back for (mail has no receipts).
    public var bounced = 0
    /// Permanent failure, or retries exhausted.
    public var failed = 0
    /// The row, address or rendering was wrong.
    public var invalid = 0
    /// Opted out, suppressed, preference or cap.
    public var suppressed = 0
    /// Disabled template or no address; cancelled; folded into a digest.
    public var skipped = 0
    /// Still waiting in the spool at the end of the period: for a retry, or scheduled for later (pending).
    public var deferred = 0
    /// Send attempts (one per sent, failed or deferred line), counted apart from messages.
    public var attempts = 0
    /// Messages that needed more than one attempt.
    public var retried = 0

    /// Creates zero counts.
    public init() {}

    /// sent ÷ (sent + failed); nil when neither happened.
    public var successRate: Double? { sent + failed > 0 ? Double(sent) / Double(sent + failed) : nil }

    /// delivered ÷ (delivered + undelivered) of messages with receipts (bounced mail left out);
    /// nil without receipts.
    public var deliveryRate: Double? {
        delivered + undelivered - bounced > 0 ? Double(delivered) / Double(delivered + undelivered - bounced) : nil
    }

    /// For mail, which has no receipts: (sent − undelivered) ÷ sent, where `undelivered` are the
    /// messages a bounce came back for; nil when no bounce came back.
    public var mailDeliveryRate: Double? {
        bounced > 0 && sent > 0 ? Double(sent - bounced) / Double(sent) : nil
    }

    /// Counts one message of `channel` at `status`.
    public mutating func count(_ status: DeliveryStatus, channel: String? = nil) {
        total += 1
        switch status {
        case .sent: sent += 1
        case .delivered: sent += 1; delivered += 1
        case .undelivered:
            sent += 1
            undelivered += 1
            if channel == Channel.mail.rawValue { bounced += 1 }
        case .failed: failed += 1
        case .invalid: invalid += 1
        case .suppressed: suppressed += 1
        case .skipped, .duplicate, .cancelled, .digested: skipped += 1
        case .deferred, .scheduled: deferred += 1
        }
    }

    /// Adds `other` into these counts.
    public mutating func add(_ other: StatusCounts) {
        total += other.total
        sent += other.sent
        delivered += other.delivered
        undelivered += other.undelivered
        bounced += other.bounced
        failed += other.failed
        invalid += other.invalid
        suppressed += other.suppressed
        skipped += other.skipped
        deferred += other.deferred
        attempts += other.attempts
        retried += other.retried
    }
}

/// Send latency from the start of the first attempt to the final outcome, in seconds.
public struct LatencyFigures: Sendable, Hashable, Codable {
    /// Messages measured (those whose first attempt is in the period).
    public var count: Int
    /// Median.
    public var p50: Double
    /// 90th percentile.
    public var p90: Double
    /// 99th percentile.
    public var p99: Double
    /// Slowest.
    public var max: Double

    /// Creates figures.
    public init(count: Int, p50: Double, p90: Double, p99: Double, max: Double) {
        self.count = count
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.max = max
    }
}

/// One row of a table: a channel, a template or an account, with its counts and latency.
public struct GroupFigures: Sendable, Hashable, Codable {
    /// `mail`, `order_shipped`, `sms/aliyun`; `none` for rows that never reached a channel.
    public var key: String
    /// The template's name (templates table only).
    public var name: String?
    /// The row's messages by final status.
    public var counts: StatusCounts
    /// Its latency, when any message was measured.
    public var latency: LatencyFigures?

    /// Creates a row.
    public init(key: String, name: String? = nil, counts: StatusCounts = StatusCounts(), latency: LatencyFigures? = nil) {
        self.key = key
        self.name = name
        self.counts = counts
        self.latency = latency
    }
}

/// Messages whose first line in the period falls in one hour, by final status.
public struct HourFigures: Sendable, Hashable {
    /// Day (days since 1970-01-01) and hour, in the log's time zone.
    public var day: Int
    /// Hour of the day, 0–23.
    public var hour: Int
    /// Messages of the hour by final status.
    public var counts: StatusCounts
}

/// Messages that ended with the same error: same final status, channel, code and message
/// pattern (quoted values replaced by `…`).
public struct FailureReason: Sendable, Hashable {
    /// The final status the messages ended in.
    public var status: DeliveryStatus
    /// The channel key (`none` for rows that never reached one).
    public var channel: String
    /// The error code.
    public var code: String
    /// The message pattern.
    public var message: String
    /// Messages that ended this way.
    public var count: Int
    /// One message that ended this way, to look up in the log.
    public var exampleMessageID: String
}

/// One bar of the latency distribution: messages with latency in `(lower, upper]` seconds.
public struct LatencyBucket: Sendable, Hashable {
    /// `≤10ms`, `>1h`.
    public var label: String
    /// The bucket's upper bound; nil for the last one.
    public var upperSeconds: Double?
    /// Messages in the bucket.
    public var count: Int
}

/// Everything a report shows, computed from the logs of a period.
public struct Report: Sendable {
    /// The days reported.
    public var period: ReportPeriod
    /// The time zone the logs were written in (herald.yaml `timezone`).
    public var timeZone: TimeZone
    /// When the report was made.
    public var generatedAt: Date
    /// Every message of the period.
    public var overall: GroupFigures
    /// Per channel, in channel order.
    public var channels: [GroupFigures]
    /// Per template, most messages first.
    public var templates: [GroupFigures]
    /// Per provider or account: `mail/default`, `sms/aliyun`, `wechat_mp/shop`.
    public var accounts: [GroupFigures]
    /// The mail channel's delivery rate when bounces came back (`StatusCounts.mailDeliveryRate`).
    public var mailDeliveryRate: Double? { mailCounts?.mailDeliveryRate }
    /// The mail channel's counts, when mail was sent.
    public var mailCounts: StatusCounts? { channels.first { $0.key == Channel.mail.rawValue }?.counts }
    /// Every hour of the period, first to last.
    public var hours: [HourFigures]
    /// Most frequent first.
    public var failures: [FailureReason]
    /// The latency distribution of all measured messages.
    public var latencyBuckets: [LatencyBucket]
    /// Receipts for messages sent before the period (not counted in the tables), per channel.
    public var lateReceipts: [GroupFigures]
    /// Log lines read.
    public var linesRead: Int
    /// Lines that could not be read.
    public var unreadableLines: Int
    /// The first 20 of them, as `file:line: reason`.
    public var unreadableExamples: [String]
    /// Days of the period without a log file.
    public var missingDays: [String]
    /// Log files whose last line had no newline yet (being written); that line is not counted.
    public var unfinishedFiles: [String]
    /// The previous period's summary, when its report exists.
    public var previous: ReportSummary?

    /// The summary kept beside the report, read back for the next report's day-over-day change.
    public var summary: ReportSummary {
        ReportSummary(period: period.name, overall: overall, channels: channels)
    }
}

/// `summary.json` in a report folder: the overall and per-channel figures.
public struct ReportSummary: Sendable, Hashable, Codable {
    /// The period's name (`2026-11-26`).
    public var period: String
    /// Every message of the period.
    public var overall: GroupFigures
    /// Per channel.
    public var channels: [GroupFigures]

    /// Creates a summary.
    public init(period: String, overall: GroupFigures, channels: [GroupFigures]) {
        self.period = period
        self.overall = overall
        self.channels = channels
    }

    /// The channel row `key`, if the summary has one.
    public func channel(_ key: String) -> GroupFigures? { channels.first { $0.key == key } }
}
