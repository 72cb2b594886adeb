import Foundation
import Synchronization

/// The time source of the stages that wait or schedule (token buckets, backoff, quiet hours).
///
/// ```swift
/// let clock = ManualClock(start: date)
/// try await clock.sleep(for: .seconds(5))   // returns at once; clock.now() moved 5 s
/// ```
public protocol HeraldClock: Sendable {
    /// The current time.
    func now() -> Date
    /// Waits `duration`.
    func sleep(for duration: Duration) async throws
}

/// The wall clock. A test hook, `HERALD_TEST_CLOCK_OFFSET=SECONDS`, moves it that far ahead for
/// the process (a test sees a window close without waiting for it); nothing else sets it.
public struct SystemClock: HeraldClock {
    /// The test hook's offset, read once per process.
    private static let offset: TimeInterval = ProcessInfo.processInfo.environment["HERALD_TEST_CLOCK_OFFSET"].flatMap(TimeInterval.init) ?? 0

    /// Creates the wall clock.
    public init() {}

    public func now() -> Date { Date().addingTimeInterval(Self.offset) }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}

/// The in-memory twin: virtual time that moves only when told to, or when someone sleeps.
public final class ManualClock: HeraldClock, Sendable {
    private let current: Mutex<Date>

    /// Creates a clock showing `start`.
    public init(start: Date) {
        current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    /// Sleeping moves the clock forward instead of waiting.
    public func sleep(for duration: Duration) async throws {
        advance(by: duration)
    }

    /// Moves the clock forward.
    public func advance(by duration: Duration) {
        current.withLock { $0 = $0.addingTimeInterval(duration.seconds) }
    }

    /// Sets the clock.
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}
