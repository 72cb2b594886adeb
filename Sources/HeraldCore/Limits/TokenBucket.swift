import Foundation
import Synchronization

/// A token bucket: `rate.count` per `rate.period`, holding at most one second's worth (at least 1).
/// Token buckets kept outside the process, so a rate holds for every worker together.
public protocol SharedRateBuckets: Sendable {
    /// Takes at most `count` tokens of bucket `key` filling at `rate` (capacity one second's worth,
    /// at least 1): how many were granted, and when none, seconds until the next token.
    func take(_ key: TransportKey, rate: RateLimit, upTo count: Int) async throws -> (granted: Int, wait: Double)
    /// Takes `count` tokens now, going into debt, and returns when each may be used.
    func reserve(_ key: TransportKey, rate: RateLimit, count: Int) async throws -> [Date]
}

final class TokenBucket: Sendable {
    /// The tokens left, as of `last`.
    private struct Level {
        var tokens: Double
        var last: Date
    }

    private let perSecond: Double
    private let capacity: Double
    private let level: Mutex<Level>

    init(rate: RateLimit, now: Date) {
        perSecond = Double(rate.count) / rate.period.seconds
        capacity = max(1, perSecond)
        level = Mutex(Level(tokens: capacity, last: now))
    }

    /// Adds what flowed in since the last look (under the lock).
    private func refill(_ level: inout Level, now: Date) {
        level.tokens = min(capacity, level.tokens + max(0, now.timeIntervalSince(level.last)) * perSecond)
        level.last = max(level.last, now)
    }

    /// Waits until at least one token is there, then takes as many as are (at most `count`);
    /// returns 0 at once when that wait would be longer than `longestWait` seconds.
    func take(upTo count: Int, clock: any HeraldClock, longestWait: Double) async throws -> Int {
        while true {
            let wait: Double = level.withLock { level in
                refill(&level, now: clock.now())
                return level.tokens >= 1 ? 0 : (1 - level.tokens) / perSecond
            }
            if wait <= 0 { break }
            if wait > longestWait { return 0 }
            try await clock.sleep(for: .milliseconds(Int64((wait * 1000).rounded(.up))))
        }
        return level.withLock { level in
            let granted = max(1, min(count, Int(level.tokens)))
            level.tokens -= Double(granted)
            return granted
        }
    }

    /// The times at which `count` more messages may go at this rate, taking their tokens now
    /// (the bucket goes into debt, so the next take waits behind them).
    func reserve(_ count: Int, now: Date) -> [Date] {
        level.withLock { level in
            refill(&level, now: now)
            return (0..<count).map { _ in
                level.tokens -= 1
                return now.addingTimeInterval(max(0, -level.tokens) / perSecond)
            }
        }
    }
}
