import Foundation
import HeraldInbox
import Hummingbird
import ServiceLifecycle

/// Fans the inbox's change log out to live clients (`GET /v1/users/{user}/events`): one poller
/// per server reads the changes after its cursor every `interval` — those written by this server,
/// by `herald run`/`watch` in another process, or by another replica on the same PostgreSQL — and
/// hands each to the subscribers of its tenant and user (an announcement to every user of its
/// tenant). A subscriber costs a stream continuation and nothing else while nothing happens.
final class LiveHub: @unchecked Sendable {
    /// What a subscriber receives.
    enum Signal: Sendable {
        /// Changes for this subscriber, oldest first.
        case events([InboxEvent])
        /// Time for a keep-alive comment.
        case heartbeat
    }

    private struct Key: Hashable {
        var tenant: String
        var user: String
    }

    private let store: any InboxStore
    private let interval: Duration
    private let heartbeat: Duration
    private let lock = NSLock()
    private var subscribers: [Key: [UUID: AsyncStream<Signal>.Continuation]] = [:]
    private var poller: Task<Void, Never>?

    init(store: any InboxStore, interval: Duration, heartbeat: Duration) {
        self.store = store
        self.interval = interval
        self.heartbeat = heartbeat
    }

    deinit {
        poller?.cancel()
    }

    /// Clients connected now.
    var count: Int { lock.withLock { subscribers.values.reduce(0) { $0 + $1.count } } }

    /// A stream of what happens for `user` of `tenant` from now on; the poller starts with the first subscriber.
    func subscribe(tenant: String, user: String) -> (id: UUID, stream: AsyncStream<Signal>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Signal>.makeStream(bufferingPolicy: .bufferingNewest(64))
        lock.withLock {
            subscribers[Key(tenant: tenant, user: user), default: [:]][id] = continuation
            if poller == nil { poller = Task { [weak self] in await self?.poll() } }
        }
        return (id, stream)
    }

    /// Ends a subscription.
    func unsubscribe(_ id: UUID, tenant: String, user: String) {
        let continuation = lock.withLock { () -> AsyncStream<Signal>.Continuation? in
            let key = Key(tenant: tenant, user: user)
            defer { if subscribers[key]?.isEmpty == true { subscribers[key] = nil } }
            return subscribers[key]?.removeValue(forKey: id)
        }
        continuation?.finish()
    }

    private func poll() async {
        let store = store
        var cursor = (try? await store.latestEventID()) ?? 0
        var sinceHeartbeat = Duration.zero
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            // Nobody listening: stop reading the log until the next subscriber starts it again.
            let idle = lock.withLock { () -> Bool in
                guard subscribers.isEmpty else { return false }
                poller = nil
                return true
            }
            if idle { return }
            sinceHeartbeat += interval
            if sinceHeartbeat >= heartbeat {
                sinceHeartbeat = .zero
                broadcast(.heartbeat)
            }
            let after = cursor
            guard let events = try? await store.events(after: after, tenant: nil, user: nil, limit: 5000),
                  let last = events.last else { continue }
            cursor = last.id
            var byUser: [Key: [InboxEvent]] = [:]
            var byTenant: [String: [InboxEvent]] = [:]
            for event in events {
                if let user = event.user {
                    byUser[Key(tenant: event.tenant, user: user), default: []].append(event)
                } else {
                    byTenant[event.tenant, default: []].append(event)
                }
            }
            lock.withLock {
                for (key, continuations) in subscribers {
                    let mine = ((byUser[key] ?? []) + (byTenant[key.tenant] ?? [])).sorted { $0.id < $1.id }
                    guard !mine.isEmpty else { continue }
                    for continuation in continuations.values { continuation.yield(.events(mine)) }
                }
            }
        }
    }

    private func broadcast(_ signal: Signal) {
        lock.withLock {
            for continuations in subscribers.values {
                for continuation in continuations.values { continuation.yield(signal) }
            }
        }
    }
}

/// Server-Sent Events text.
enum ServerSentEvent {
    /// One event: `id`, `event` and one `data` line of JSON.
    static func text(id: Int64, event: String, json: String) -> String {
        "id: \(id)\nevent: \(event)\ndata: \(json)\n\n"
    }
}
