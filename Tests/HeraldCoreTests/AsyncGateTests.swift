import Foundation
import HeraldCore
import Testing

/// `AsyncGate` lets one task through at a time even when the task suspends inside.
@Suite struct AsyncGateTests {
    final class Inside: @unchecked Sendable {
        private let lock = NSLock()
        private var now = 0
        private(set) var most = 0
        private(set) var total = 0

        func enter() { lock.withLock { now += 1; most = max(most, now) } }
        func leave() { lock.withLock { now -= 1; total += 1 } }
    }

    @Test func oneTaskAtATimeAcrossSuspensionsAndEveryoneGetsThrough() async {
        let gate = AsyncGate()
        let inside = Inside()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    await gate.run {
                        inside.enter()
                        // Suspends with the gate held: an actor would let the next caller in here.
                        await Task.yield()
                        await Task.yield()
                        inside.leave()
                    }
                }
            }
        }
        #expect(inside.most == 1)
        #expect(inside.total == 200)
    }

    @Test func anErrorInsideOpensTheGateForTheNext() async throws {
        struct Boom: Error {}
        let gate = AsyncGate()
        await #expect(throws: Boom.self) { try await gate.run { throw Boom() } }
        #expect(await gate.run { 42 } == 42)
    }
}
