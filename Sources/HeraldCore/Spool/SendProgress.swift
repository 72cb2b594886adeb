import Foundation
import Synchronization

/// A send as the shared store keeps it while its chunk is in hand: what the send journal says,
/// plus the worker that sent it and when.
public struct SharedSend: Sendable, Hashable {
    /// The journaled send (message id, batch, row, channel, account, template, provider id…).
    public var send: SendJournal.Send
    /// The worker that sent it (`worker.name`).
    public var worker: String
    /// When the provider accepted it.
    public var at: Date

    /// Creates a record.
    public init(send: SendJournal.Send, worker: String, at: Date) {
        self.send = send
        self.worker = worker
        self.at = at
    }
}

/// Sends recorded in the store every worker sees, one by one as providers accept them (PostgreSQL
/// mode), so a chunk claimed after its worker died skips what that worker sent, even when its
/// machine and its send journal are gone.
///
/// ```swift
/// let store = MemorySendProgressStore()
/// try store.record([SharedSend(send: send, worker: "w2", at: Date())])
/// try await store.sends(of: [send.id])   // [send.id: … worker "w2"]
/// ```
public protocol SendProgressStore: Sendable {
    /// Keeps `sends` (a send recorded twice keeps its first record). Synchronous on purpose:
    /// `SendProgress` calls it from a thread of its own while transports wait for it, so the
    /// write cannot depend on a cooperative pool whose threads may be the ones waiting.
    func record(_ sends: [SharedSend]) throws
    /// The recorded sends among `ids`.
    func sends(of ids: [MessageID]) async throws -> [MessageID: SharedSend]
    /// Forgets sends recorded before `date` whose message the ledger holds (the ledger then
    /// answers for them); returns how many.
    @discardableResult
    func prune(recordedBefore date: Date) async throws -> Int
}

/// The in-memory twin of the shared send progress, for tests of the chain over a queue.
public final class MemorySendProgressStore: SendProgressStore, Sendable {
    private let kept = Mutex<[MessageID: SharedSend]>([:])
    private let hook = Mutex<(@Sendable ([SharedSend]) throws -> Void)?>(nil)
    private let ledger: MemoryLedger?

    /// Called before each write (a test stalls or fails writes here, and may change it meanwhile).
    public var beforeWrite: (@Sendable ([SharedSend]) throws -> Void)? {
        get { hook.withLock { $0 } }
        set { hook.withLock { $0 = newValue } }
    }

    /// An empty store; `ledger` answers `prune`'s question (nil: nothing is pruned).
    public init(ledger: MemoryLedger? = nil) {
        self.ledger = ledger
    }

    /// Every send recorded.
    public var all: [SharedSend] { kept.withLock { Array($0.values) } }

    public func record(_ sends: [SharedSend]) throws {
        try beforeWrite?(sends)
        kept.withLock { kept in
            for send in sends where kept[send.send.id] == nil { kept[send.send.id] = send }
        }
    }

    public func sends(of ids: [MessageID]) throws -> [MessageID: SharedSend] {
        kept.withLock { kept in ids.reduce(into: [:]) { found, id in found[id] = kept[id] } }
    }

    public func prune(recordedBefore date: Date) throws -> Int {
        guard let ledger else { return 0 }
        let old = kept.withLock { $0.values.filter { $0.at < date }.map(\.send.id) }
        let known = try ledger.records(of: old)
        kept.withLock { kept in for id in known.keys { kept[id] = nil } }
        return known.count
    }
}

/// Writes each send to the shared store as the transport reports it, grouped: every send that
/// arrives while a write is under way goes in the next one. `sent` returns once every send
/// handed in *before* it is stored, so a connection that reports message N and goes on to
/// message N+1 has N+1 at most unstored when it starts N+2: a worker that dies costs at most two
/// messages per connection, journal or no journal.
///
/// A store that keeps failing for `patience` sets `failure`; the send stage then starts no
/// further message (they are deferred to the spool) until a write succeeds again.
///
/// `@unchecked Sendable`: its state is guarded by an NSCondition (senders wait for the writer), which Mutex cannot do.
public final class SendProgress: @unchecked Sendable {
    /// The store written to.
    public let store: any SendProgressStore
    /// This worker's name, kept with each send.
    public let worker: String
    /// How long a failing store is retried before `failure` is set.
    public let patience: Duration

    private let condition = NSCondition()
    private var pending: [SharedSend] = []
    private var handedIn = 0
    private var stored = 0
    private var writing = false
    private var lastFailure: String?

    /// A writer of `worker`'s sends to `store`.
    public init(store: any SendProgressStore, worker: String, patience: Duration = .seconds(10)) {
        self.store = store
        self.worker = worker
        self.patience = patience
    }

    /// Why sends cannot be recorded in the shared store now, or nil while they can.
    public var failure: String? {
        condition.withLock { lastFailure }
    }

    /// Hands in a send and waits until every send handed in before it is stored (or the store
    /// is failing). Call it from the transport's worker, as soon as the provider accepted.
    public func sent(_ send: SendJournal.Send, at date: Date = Date()) {
        condition.lock()
        defer { condition.unlock() }
        pending.append(SharedSend(send: send, worker: worker, at: date))
        handedIn += 1
        let earlier = handedIn - 1
        if writing {
            condition.broadcast()
        } else {
            writing = true
            Thread.detachNewThread { [self] in writeLoop() }
        }
        while stored < earlier && lastFailure == nil { condition.wait() }
    }

    /// Waits until everything handed in was written, or given up on (`failure` says which).
    public func flush() {
        condition.lock()
        defer { condition.unlock() }
        let target = handedIn
        while stored < target { condition.wait() }
    }

    private func writeLoop() {
        while true {
            condition.lock()
            // The thread stays a second for the next send rather than start anew for each one.
            let idleUntil = Date().addingTimeInterval(1)
            while pending.isEmpty && condition.wait(until: idleUntil) {}
            guard !pending.isEmpty else {
                writing = false
                condition.unlock()
                return
            }
            let group = pending
            pending = []
            let through = handedIn
            condition.unlock()
            let problem = write(group)
            condition.lock()
            stored = through
            lastFailure = problem
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Writes one group, retrying a failing store for `patience`; returns why it gave up.
    private func write(_ group: [SharedSend]) -> String? {
        let clock = ContinuousClock()
        let deadline = clock.now + patience
        var wait = Duration.milliseconds(50)
        while true {
            do {
                try store.record(group)
                return nil
            } catch {
                if clock.now + wait > deadline {
                    return "the shared store did not take send progress for \(patience): \(error)"
                }
                Thread.sleep(forTimeInterval: Double(wait.components.attoseconds) / 1e18 + Double(wait.components.seconds))
                wait = min(wait * 2, .seconds(1))
            }
        }
    }
}
