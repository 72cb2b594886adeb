import Foundation
import Synchronization

/// Sends per recipient over time, kept across runs for per-recipient caps.
///
/// ```swift
/// let counters = MemoryRecipientCounters()
/// try await counters.record([(.sms, "+8613800138000", now)])
/// try await counters.sends(channel: .sms, addresses: ["+8613800138000"], since: hourAgo)   // [address: [now]]
/// ```
public protocol RecipientCounters: Sendable {
    /// Send times per address since `since`, oldest first.
    func sends(channel: Channel, addresses: [String], since: Date) async throws -> [String: [Date]]
    /// Records sends.
    func record(_ sends: [(channel: Channel, address: String, at: Date)]) async throws
    /// Forgets counted sends older than `cutoff` (cap counters only; the ledger keeps every message).
    func pruneCounts(before cutoff: Date) async throws
    /// Runs one chunk's cap decisions: `decide` reads the counters it is given and returns the
    /// sends it approves. Counters shared by several workers (PostgreSQL) run it while no other
    /// worker decides and record the approvals before letting go, so two workers cannot both
    /// take an address's last allowed send. Others just run it: the record stage records the
    /// approvals with the chunk.
    func deciding(_ decide: (any RecipientCounters) async throws -> [(channel: Channel, address: String, at: Date)]) async throws
    /// Whether `deciding` records the approvals itself (counters shared by several workers).
    var recordsWhileDeciding: Bool { get }
}

extension RecipientCounters {
    public func deciding(_ decide: (any RecipientCounters) async throws -> [(channel: Channel, address: String, at: Date)]) async throws {
        _ = try await decide(self)
    }

    public var recordsWhileDeciding: Bool { false }
}

/// The in-memory twin of the SQLite counters.
public final class MemoryRecipientCounters: RecipientCounters, Sendable {
    private let times = Mutex<[String: [Date]]>([:])

    /// Creates empty counters.
    public init() {}

    public func sends(channel: Channel, addresses: [String], since: Date) async throws -> [String: [Date]] {
        times.withLock { times in
            addresses.reduce(into: [:]) { result, address in
                let list = times["\(channel.rawValue)|\(address)", default: []].filter { $0 > since }
                if !list.isEmpty { result[address] = list }
            }
        }
    }

    public func record(_ sends: [(channel: Channel, address: String, at: Date)]) async throws {
        times.withLock { times in
            for send in sends { times["\(send.channel.rawValue)|\(send.address)", default: []].append(send.at) }
        }
    }

    public func pruneCounts(before cutoff: Date) async throws {
        times.withLock { times in
            for key in times.keys { times[key]?.removeAll { $0 < cutoff } }
        }
    }
}
