import Foundation

/// How deferred messages are retried (`retry:` in herald.yaml, overridable per account,
/// channel or app): the wait doubles from `minBackoff` to `maxBackoff`, with jitter, until
/// `maxAttempts` or `maxAge`, then the message is a dead letter.
public struct RetryPolicy: Sendable, Hashable {
    /// The wait after the first failed attempt (`min_backoff`, default 5m).
    public var minBackoff: Duration
    /// The longest wait between attempts (`max_backoff`, default 1h).
    public var maxBackoff: Duration
    /// How long after it was first seen a message is given up (`max_age`, default 24h).
    public var maxAge: Duration
    /// How many failed attempts before a message is given up (`max_attempts`).
    public var maxAttempts: Int

    /// Creates a policy; the defaults are 5m, 1h, 24h and 10 attempts.
    public init(minBackoff: Duration = .seconds(300), maxBackoff: Duration = .seconds(3600),
                maxAge: Duration = .seconds(86_400), maxAttempts: Int = 10) {
        self.minBackoff = minBackoff
        self.maxBackoff = maxBackoff
        self.maxAge = maxAge
        self.maxAttempts = maxAttempts
    }

    /// The wait after failed attempt number `attempt` (1 = the first send): `minBackoff × 2^(attempt-1)`,
    /// at most `maxBackoff`, then scaled by a jitter factor in 0.8…1.2 (`jitter` in 0…1).
    public func backoff(afterAttempt attempt: Int, jitter: Double) -> Duration {
        let base = minBackoff.seconds * pow(2, Double(max(0, attempt - 1)))
        let capped = min(base, maxBackoff.seconds)
        return .milliseconds(Int64((capped * (0.8 + 0.4 * min(max(jitter, 0), 1)) * 1000).rounded()))
    }
}

/// A daily window in local time, e.g. `21:00-08:00` (crossing midnight) or `12:00-13:30`.
public struct QuietHours: Sendable, Hashable, CustomStringConvertible {
    /// Minutes after local midnight where the window starts and ends.
    public var start: Int
    /// Minutes after local midnight where the window ends (before `start` when it crosses midnight).
    public var end: Int

    /// Creates a window.
    public init(start: Int, end: Int) {
        self.start = start
        self.end = end
    }

    /// Reads `HH:MM-HH:MM`.
    public static func parse(_ text: String) -> QuietHours? {
        let parts = text.split(separator: "-").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]), start != end else { return nil }
        return QuietHours(start: start, end: end)
    }

    private static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0...23).contains(hour),
              (0...59).contains(minute) else { return nil }
        return hour * 60 + minute
    }

    /// When the window that `date` falls in ends, or nil when `date` is outside it.
    public func end(of date: Date, timeZone: TimeZone) -> Date? {
        let offset = timeZone.secondsFromGMT(for: date)
        let local = Int(date.timeIntervalSince1970.rounded(.down)) + offset
        let (days, secondsOfDay) = local.floorDivided(by: 86_400)
        let minute = secondsOfDay / 60
        let inside = start < end ? (minute >= start && minute < end) : (minute >= start || minute < end)
        guard inside else { return nil }
        // The end is today at `end`, or tomorrow when the window crosses midnight and we are before midnight.
        let endDay = (start > end && minute >= start) ? days + 1 : days
        let localEnd = endDay * 86_400 + end * 60
        return Date(timeIntervalSince1970: TimeInterval(localEnd - timeZone.secondsFromGMT(for: date)))
    }

    public var description: String {
        String(format: "%02d:%02d-%02d:%02d", start / 60, start % 60, end / 60, end % 60)
    }
}

extension Duration {
    /// The duration in seconds as a Double.
    public var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
