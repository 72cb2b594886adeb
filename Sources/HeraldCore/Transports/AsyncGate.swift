import Foundation
import Synchronization

/// Lets one task at a time through `run`, across suspension points (an actor alone would let a
/// second caller in while the first awaits). Waiters go through in arrival order.
///
/// ```swift
/// let gate = AsyncGate()
/// let token = await gate.run { await cachedOrFetchedToken() }   // one fetch at a time
/// ```
public final class AsyncGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    /// An open gate.
    public init() {}

    /// Runs `body` once no other `run` of this gate is under way.
    public func run<T>(_ body: () async throws -> T) async rethrows -> T {
        await enter()
        defer { leave() }
        return try await body()
    }

    private func enter() async {
        let entered = state.withLock { state -> Bool in
            if state.busy { return false }
            state.busy = true
            return true
        }
        if entered { return }
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let free = state.withLock { state -> Bool in
                if state.busy {
                    state.waiters.append(waiter)
                    return false
                }
                state.busy = true
                return true
            }
            if free { waiter.resume() }
        }
    }

    private func leave() {
        // The gate passes straight to the next waiter (it stays busy), or opens.
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.busy = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
