import Foundation

/// Lets one task at a time through `run`, across suspension points (an actor alone would let a
/// second caller in while the first awaits). Waiters go through in arrival order.
///
/// ```swift
/// let gate = AsyncGate()
/// let token = await gate.run { await cachedOrFetchedToken() }   // one fetch at a time
/// ```
public final class AsyncGate: @unchecked Sendable {
    private let lock = NSLock()
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// An open gate.
    public init() {}

    /// Runs `body` once no other `run` of this gate is under way.
    public func run<T>(_ body: () async throws -> T) async rethrows -> T {
        await enter()
        defer { leave() }
        return try await body()
    }

    private func enter() async {
        if lock.withLock({ busy ? false : { busy = true; return true }() }) { return }
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let free = lock.withLock { () -> Bool in
                if busy {
                    waiters.append(waiter)
                    return false
                }
                busy = true
                return true
            }
            if free { waiter.resume() }
        }
    }

    private func leave() {
        // The gate passes straight to the next waiter (it stays busy), or opens.
        let next = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            if waiters.isEmpty {
                busy = false
                return nil
            }
            return waiters.removeFirst()
        }
        next?.resume()
    }
}
