import Foundation
import Synchronization

/// Idle libcurl HTTP handles kept for reuse (each keeps its connection open), and a way to use
/// one off the Swift concurrency threads, since a transfer blocks.
final class HTTPClientPool: Sendable {
    private let idle = Mutex<[HTTPClient]>([])

    /// Runs `work` with an idle handle on a dispatch thread; nil when libcurl cannot make one.
    func run<T: Sendable>(_ work: @escaping @Sendable (HTTPClient) -> T) async -> T? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                guard let client = self.idle.withLock({ $0.popLast() }) ?? HTTPClient() else {
                    continuation.resume(returning: nil)
                    return
                }
                let result = work(client)
                self.idle.withLock { $0.append(client) }
                continuation.resume(returning: result)
            }
        }
    }
}
