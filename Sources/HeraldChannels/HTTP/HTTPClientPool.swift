import Foundation

/// Idle libcurl HTTP handles kept for reuse (each keeps its connection open), and a way to use
/// one off the Swift concurrency threads, since a transfer blocks.
final class HTTPClientPool: @unchecked Sendable {
    private let lock = NSLock()
    private var idle: [HTTPClient] = []

    /// Runs `work` with an idle handle on a dispatch thread; nil when libcurl cannot make one.
    func run<T: Sendable>(_ work: @escaping @Sendable (HTTPClient) -> T) async -> T? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                guard let client = self.lock.withLock({ self.idle.popLast() }) ?? HTTPClient() else {
                    continuation.resume(returning: nil)
                    return
                }
                let result = work(client)
                self.lock.withLock { self.idle.append(client) }
                continuation.resume(returning: result)
            }
        }
    }
}
