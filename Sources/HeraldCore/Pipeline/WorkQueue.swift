import Foundation
import Synchronization

/// Rows of one batch waiting to be sent by whichever worker claims them first.
public struct QueuedChunk: Sendable, Hashable {
    /// The chunk's id in the queue.
    public var id: Int64
    /// The batch the rows belong to.
    public var batch: BatchContext
    /// The rows, as read from the batch file.
    public var records: [BatchRecord]
    /// How many times it was claimed (more than 1: a worker died or ran out of its lease with it).
    public var claims: Int

    /// Creates a chunk.
    public init(id: Int64, batch: BatchContext, records: [BatchRecord], claims: Int = 1) {
        self.id = id
        self.batch = batch
        self.records = records
        self.claims = claims
    }
}

/// What happened when a worker offered a batch to the queue.
public enum BatchClaim: Sendable, Hashable {
    /// The batch is this worker's: its rows are queued.
    case queued(rows: Int, chunks: Int)
    /// Another worker (or this one, earlier) took a batch with the same identity first.
    case takenBefore(worker: String, file: String, at: Date)
}

/// The work queue that several `herald watch` workers share (PostgreSQL): a batch is claimed
/// once by its identity, its rows are queued in chunks, and every worker claims chunks (most
/// urgent category first) for the length of a lease. A worker that dies loses its lease and
/// another worker takes the chunk; the ledger keeps anything already recorded from going twice.
///
/// ```swift
/// let claim = try queue.enqueue(batch: batch, worker: "a", next: { try reader.nextChunk() })
/// while let chunk = try queue.claim(worker: "a", lease: .seconds(60)) {
///     // … run the chunk through the chain …
///     try queue.finish(chunk.id)
/// }
/// ```
public protocol WorkQueue: Sendable {
    /// Claims `batch` by its identity and queues the chunks `next` returns until it returns nil,
    /// all in one transaction: a worker that dies part-way leaves nothing queued and nothing
    /// claimed. Returns `.takenBefore` (queuing nothing) when the identity was claimed before.
    func enqueue(batch: BatchContext, worker: String,
                 next: () throws -> (records: [BatchRecord], priority: Int)?) async throws -> BatchClaim
    /// The most urgent chunk no live lease holds, now leased to `worker` for `lease`; nil when
    /// there is none.
    func claim(worker: String, lease: Duration) async throws -> QueuedChunk?
    /// Extends `worker`'s lease on a chunk it still holds. Synchronous on purpose: the lease
    /// heartbeat calls it from a timer thread, so a busy cooperative pool cannot make it late.
    func renew(_ id: Int64, worker: String, lease: Duration) throws
    /// Removes a chunk whose rows were all recorded.
    func finish(_ id: Int64) async throws
    /// Frees every chunk leased to `worker` for any worker to claim at once (a restarted worker
    /// gives back what its previous process held, after recovering its journal); returns how many.
    /// Only the process that holds `worker`'s name may call it.
    func release(worker: String) async throws -> Int
    /// Chunks and rows waiting or in hand.
    func backlog() async throws -> (chunks: Int, rows: Int)
}

/// The in-memory twin of the PostgreSQL queue, for tests of the chain over a queue.
public final class MemoryWorkQueue: WorkQueue, Sendable {
    private struct Item {
        var chunk: QueuedChunk
        var priority: Int
        var leasedUntil: Date?
        var owner: String?
    }

    private struct Queue {
        var items: [Item] = []
        var claimed: [String: (worker: String, file: String, at: Date)] = [:]
        var nextID: Int64 = 1
    }

    private let queue = Mutex(Queue())
    private let now: @Sendable () -> Date

    /// Creates an empty queue reading time from `now`.
    public init(now: @escaping @Sendable () -> Date = { Date() }) {
        self.now = now
    }

    public func enqueue(batch: BatchContext, worker: String,
                        next: () throws -> (records: [BatchRecord], priority: Int)?) throws -> BatchClaim {
        if let earlier = queue.withLock({ $0.claimed[batch.id] }) {
            return .takenBefore(worker: earlier.worker, file: earlier.file, at: earlier.at)
        }
        var pending: [Item] = []
        var rows = 0
        while let (records, priority) = try next() {
            pending.append(Item(chunk: QueuedChunk(id: 0, batch: batch, records: records, claims: 0), priority: priority))
            rows += records.count
        }
        let at = now()
        return queue.withLock { queue in
            if let earlier = queue.claimed[batch.id] { return .takenBefore(worker: earlier.worker, file: earlier.file, at: earlier.at) }
            queue.claimed[batch.id] = (worker, batch.file, at)
            for var item in pending {
                item.chunk.id = queue.nextID
                queue.nextID += 1
                queue.items.append(item)
            }
            return .queued(rows: rows, chunks: pending.count)
        }
    }

    public func claim(worker: String, lease: Duration) throws -> QueuedChunk? {
        let at = now()
        return queue.withLock { queue in
            let items = queue.items
            let free = items.indices.filter { items[$0].leasedUntil.map { $0 < at } ?? true }
            guard let index = free.min(by: { (items[$0].priority, items[$0].chunk.id) < (items[$1].priority, items[$1].chunk.id) }) else {
                return nil
            }
            queue.items[index].leasedUntil = at.addingTimeInterval(lease.seconds)
            queue.items[index].owner = worker
            queue.items[index].chunk.claims += 1
            return queue.items[index].chunk
        }
    }

    public func renew(_ id: Int64, worker: String, lease: Duration) throws {
        let until = now().addingTimeInterval(lease.seconds)
        queue.withLock { queue in
            if let index = queue.items.firstIndex(where: { $0.chunk.id == id && $0.owner == worker }) {
                queue.items[index].leasedUntil = until
            }
        }
    }

    public func release(worker: String) throws -> Int {
        queue.withLock { queue in
            var released = 0
            for index in queue.items.indices where queue.items[index].owner == worker && queue.items[index].leasedUntil != nil {
                queue.items[index].leasedUntil = nil
                released += 1
            }
            return released
        }
    }

    public func finish(_ id: Int64) throws {
        queue.withLock { $0.items.removeAll { $0.chunk.id == id } }
    }

    public func backlog() throws -> (chunks: Int, rows: Int) {
        queue.withLock { queue in (queue.items.count, queue.items.reduce(0) { $0 + $1.chunk.records.count }) }
    }
}

/// What `POST /v1/notifications` answered for each `Idempotency-Key` (as a batch id: see
/// `BatchContext.ingestID`): a replay answers the same, another body is a conflict. A key is
/// claimed before its batch is queued and settled after, so of many requests racing with one key
/// exactly one queues its body. The workspace keeps them in files (`FileIngestRecords`), a shared
/// store for every `herald serve` replica (PostgreSQL).
public protocol IngestRecords: Sendable {
    /// Claims `key` for a body with `bodyHash`, to be answered with `response`, unless the key is
    /// claimed already: then nothing changes and the claim says what the key holds.
    func claim(key: String, bodyHash: String, response: String) async throws -> IngestClaim
    /// The batch of `key` is queued: replays answer its response from now on.
    func settle(key: String) async throws
}

/// What `IngestRecords.claim` found.
public enum IngestClaim: Sendable, Equatable {
    /// The key is this request's.
    case won
    /// The key was claimed before: by a body with `bodyHash`, answered `response`; `settled`
    /// once its batch was queued; `age` seconds ago.
    case taken(bodyHash: String, response: String, settled: Bool, age: Double)
}

/// A worker's name held by this process in the shared store (see `WorkQueue.release(worker:)`):
/// while held, no other process works under the name.
public protocol WorkerNameHold: AnyObject, Sendable {
    /// Whether the name is still this process's (false once the store let go of it).
    var isHeld: Bool { get }
}
