import Synchronization

/// A count that concurrent tasks of a test add to.
public final class LockedCounter: Sendable {
    private let total = Mutex(0)

    /// A count of zero.
    public init() {}

    /// The count so far.
    public var value: Int { total.withLock { $0 } }

    /// Adds `count`.
    public func add(_ count: Int) { total.withLock { $0 += count } }

    /// Adds one and returns the new count.
    public func increment() -> Int {
        total.withLock { total in
            total += 1
            return total
        }
    }
}
