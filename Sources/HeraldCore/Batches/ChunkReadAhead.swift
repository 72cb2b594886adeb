import Foundation

/// Reads a batch's chunks on a thread of its own, a few chunks ahead of the caller, so reading
/// and parsing the file overlaps what the caller does with each chunk (queuing it in a database:
/// the round trips no longer wait for the parser, nor the parser for them). Errors arrive in order,
/// after the chunks read before them.
///
/// ```swift
/// let ahead = ChunkReadAhead(depth: 8) { try reader.nextChunk() }
/// defer { ahead.cancel() }
/// while let chunk = try ahead.next() { … }
/// ```
///
/// `@unchecked Sendable`: its state is guarded by an NSCondition (the reader waits for room, the caller for a chunk).
public final class ChunkReadAhead<Chunk: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var ready: [Result<Chunk, any Error>] = []
    private var finished = false
    private var cancelled = false
    private let depth: Int

    /// Starts reading: `read` is called on the reading thread until it returns nil or throws.
    public init(depth: Int = 8, read: @escaping () throws -> Chunk?) {
        self.depth = max(1, depth)
        // Called on the reading thread only, from here on.
        nonisolated(unsafe) let read = read
        Thread.detachNewThread { [self] in run(read) }
    }

    /// The next chunk, nil after the last; rethrows what reading threw.
    public func next() throws -> Chunk? {
        condition.lock()
        defer { condition.unlock() }
        while ready.isEmpty && !finished { condition.wait() }
        guard !ready.isEmpty else { return nil }
        let result = ready.removeFirst()
        condition.broadcast()
        return try result.get()
    }

    /// Stops reading (the caller gave up); safe to call more than once.
    public func cancel() {
        condition.withLock {
            cancelled = true
            condition.broadcast()
        }
    }

    private func run(_ read: () throws -> Chunk?) {
        while true {
            condition.lock()
            while ready.count >= depth && !cancelled { condition.wait() }
            let stop = cancelled
            condition.unlock()
            if stop { break }
            let result: Result<Chunk, any Error>?
            do {
                result = try read().map { .success($0) }
            } catch {
                result = .failure(error)
            }
            condition.lock()
            if let result { ready.append(result) }
            let done: Bool
            if case .success = result { done = false } else { done = true }
            if done { finished = true }
            condition.broadcast()
            condition.unlock()
            if done { return }
        }
        condition.withLock {
            finished = true
            condition.broadcast()
        }
    }
}
