import Foundation
import Synchronization

/// Token buckets per transport and the error-burst guard, for one run's send stage.
public final class SendControl: Sendable {
    /// What the run learns as it sends, per transport key.
    private struct State {
        var buckets: [TransportKey: TokenBucket] = [:]
        var failuresInARow: [TransportKey: Int] = [:]
        var paused: [TransportKey: String] = [:]
    }

    private let state = Mutex(State())
    private let rates: @Sendable (Channel, String) -> RateLimit?
    /// Failures in a row that pause a transport; 0 never.
    public let burstLimit: Int
    /// The clock of quiet hours, caps and waits.
    public let clock: any HeraldClock

    /// The zone deferral messages show times in.
    public let timeZone: TimeZone

    /// Buckets shared with other workers (PostgreSQL); nil keeps them in this process.
    public let shared: (any SharedRateBuckets)?
    /// Where daily quotas are counted (the workspace store in production).
    public let quotas: any AccountQuotas
    /// The daily quota of a channel's account (`daily_quota`), or nil.
    public let dailyQuota: @Sendable (Channel, String) -> Int?
    /// The longest a send waits for its rate within a run; when the next token is further away,
    /// the messages are deferred to the spool instead (`rate: 1/day` must not block a run for a day).
    public let longestWait: Duration = .seconds(5)

    /// Creates the control; `rates` gives the rate of a channel's account, `dailyQuota` its
    /// quota (counted in `quotas`); `shared` holds the buckets when workers share them.
    public init(clock: any HeraldClock, burstLimit: Int, timeZone: TimeZone = TimeZone(identifier: "UTC") ?? .current,
                shared: (any SharedRateBuckets)? = nil, quotas: any AccountQuotas = MemoryAccountQuotas(),
                dailyQuota: @escaping @Sendable (Channel, String) -> Int? = { _, _ in nil },
                rates: @escaping @Sendable (Channel, String) -> RateLimit?) {
        self.clock = clock
        self.burstLimit = burstLimit
        self.timeZone = timeZone
        self.shared = shared
        self.quotas = quotas
        self.dailyQuota = dailyQuota
        self.rates = rates
    }

    /// Transports paused in this run, with the reason.
    public var pausedTransports: [TransportKey: String] { state.withLock { $0.paused } }

    /// Waits (at most `longestWait`) for tokens and returns how many messages (1…`count`) may go
    /// now; 0 when the rate allows the next one only later than that.
    func take(_ key: TransportKey, upTo count: Int) async throws -> Int {
        if let shared, let rate = rates(key.channel, key.account) {
            var waited = 0.0
            while true {
                let (granted, wait) = try await shared.take(key, rate: rate, upTo: count)
                if granted > 0 { return granted }
                if wait > longestWait.seconds - waited { return 0 }
                try await clock.sleep(for: .milliseconds(Int64((wait * 1000).rounded(.up))))
                waited += wait
            }
        }
        guard let bucket = bucket(key) else { return count }
        return try await bucket.take(upTo: count, clock: clock, longestWait: longestWait.seconds)
    }

    /// When each of `count` messages that could not wait may go, spaced at the rate; the slots
    /// are reserved, so later messages of this run queue behind them.
    func schedule(_ key: TransportKey, count: Int) async throws -> [Date] {
        if let shared, let rate = rates(key.channel, key.account) { return try await shared.reserve(key, rate: rate, count: count) }
        return bucket(key)?.reserve(count, now: clock.now()) ?? []
    }

    /// Takes up to `count` of today's quota of a channel's account: how many may go, and when
    /// the quota starts again (midnight in `timeZone`); nil when the account has no quota.
    func takeQuota(_ key: TransportKey, upTo count: Int) async throws -> (granted: Int, resets: Date)? {
        guard let limit = dailyQuota(key.channel, key.account) else { return nil }
        let now = clock.now()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let resets = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: now)) ?? now.addingTimeInterval(86_400)
        let granted = try await quotas.take(key, day: Timestamp.day(now, timeZone: timeZone), limit: limit, upTo: count)
        return (granted, resets)
    }

    private func bucket(_ key: TransportKey) -> TokenBucket? {
        guard let rate = rates(key.channel, key.account) else { return nil }
        return state.withLock { state -> TokenBucket in
            if let bucket = state.buckets[key] { return bucket }
            let bucket = TokenBucket(rate: rate, now: clock.now())
            state.buckets[key] = bucket
            return bucket
        }
    }

    /// The rate of a channel's account, for messages.
    func rate(channel: Channel, account: String) -> RateLimit? {
        rates(channel, account)
    }

    /// Counts outcomes in order; returns the pause reason when the transport just hit the limit.
    func observe(_ key: TransportKey, _ outcomes: [DeliveryOutcome], transport: String) -> String? {
        state.withLock { state in
            if let refused = outcomes.first(where: \.stopsAccount), state.paused[key] == nil {
                state.paused[key] = "\(transport) '\(key)' refused the account (\(refused.code ?? "") \(refused.message ?? "")); "
                    + "fix its settings in herald.yaml; its remaining messages were spooled"
            }
            guard burstLimit > 0 else { return state.paused[key] }
            for outcome in outcomes {
                if outcome.kind == .sent {
                    state.failuresInARow[key] = 0
                } else {
                    state.failuresInARow[key, default: 0] += 1
                    if state.failuresInARow[key, default: 0] >= burstLimit && state.paused[key] == nil {
                        state.paused[key] = "\(burstLimit) failures in a row on \(transport) '\(key)' (last: \(outcome.code ?? "") \(outcome.message ?? "")); its remaining messages were spooled"
                    }
                }
            }
            return state.paused[key]
        }
    }

    /// How many messages may go at once: while the transport is proven healthy (its last outcome
    /// a success), all of them, the transport asking before each whether it was paused meanwhile;
    /// before its first outcome and while it fails, only as many as may still fail before the
    /// pause, so a transport that fails from the start stops after exactly `burstLimit` failures.
    func sliceSize(_ key: TransportKey) -> Int {
        guard burstLimit > 0 else { return Int.max }
        return state.withLock { state in
            let failing = state.failuresInARow[key] ?? -1 // -1: no outcome yet in this run
            return failing == 0 ? Int.max : max(1, burstLimit - max(0, failing))
        }
    }

    func pauseReason(_ key: TransportKey) -> String? {
        state.withLock { $0.paused[key] }
    }
}
