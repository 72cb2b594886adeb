import Foundation
import Synchronization

/// Messages sent per account and day, for `daily_quota`: a provider account that allows 50,000
/// a day stops taking mail after that, for every run and every worker.
///
/// ```swift
/// let granted = try await quotas.take(TransportKey(.mail, "exmail"), day: "2026-12-01", limit: 50_000, upTo: 200)   // 0…200
/// ```
public protocol AccountQuotas: Sendable {
    /// Takes up to `count` of what is left of `limit` for `key` on `day`; returns how many it took.
    func take(_ key: TransportKey, day: String, limit: Int, upTo count: Int) async throws -> Int
    /// How many `key` used on `day`.
    func used(_ key: TransportKey, day: String) async throws -> Int
}

/// The in-memory twin of the quota stores.
public final class MemoryAccountQuotas: AccountQuotas, Sendable {
    private let counts = Mutex<[String: Int]>([:])  // by "key day"

    /// Creates empty quotas.
    public init() {}

    public func take(_ key: TransportKey, day: String, limit: Int, upTo count: Int) async throws -> Int {
        counts.withLock { counts in
            let used = counts["\(key) \(day)", default: 0]
            let granted = max(0, min(count, limit - used))
            counts["\(key) \(day)"] = used + granted
            return granted
        }
    }

    public func used(_ key: TransportKey, day: String) async throws -> Int {
        counts.withLock { $0["\(key) \(day)", default: 0] }
    }
}
