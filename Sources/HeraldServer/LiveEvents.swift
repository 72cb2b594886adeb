import Foundation
import HeraldInbox
import Hummingbird

/// Fans the inbox's change log out to live clients (`GET /v1/users/{user}/events`): one poller
/// per server reads the changes after its cursor every `interval` — those written by this server,
/// by `herald run`/`watch` in another process, or by another replica on the same PostgreSQL — and
/// hands each to the subscribers of its tenant and user (an announcement to every user of its
/// tenant). A subscriber costs a small queue and nothing else while nothing happens; a client
/// that does not read falls behind, and once `backlog` events wait for it, it is dropped (it
/// reconnects with Last-Event-ID and reads what it missed from the store), so memory does not grow
/// with slow clients × messages.
///
/// `@unchecked Sendable`: its state is behind one NSLock, and it hands out continuations that resume outside it.
final class LiveHub: @unchecked Sendable {
    private struct Key: Hashable {
        var tenant: String
        var user: String
    }

    private let store: any InboxStore
    private let interval: Duration
    private let heartbeat: Duration
    private let backlog: Int
    private let lock = NSLock()
    private var subscribers: [Key: [ObjectIdentifier: LiveSubscriber]] = [:]
    private var poller: Task<Void, Never>?

    init(store: any InboxStore, interval: Duration, heartbeat: Duration, backlog: Int = 1000) {
        self.store = store
        self.interval = interval
        self.heartbeat = heartbeat
        self.backlog = backlog
    }

    deinit {
        poller?.cancel()
    }

    /// Clients connected now.
    var count: Int { lock.withLock { subscribers.values.reduce(0) { $0 + $1.count } } }

    /// What happens for `user` of `tenant` from now on; the poller starts with the first subscriber.
    func subscribe(tenant: String, user: String) -> LiveSubscriber {
        let subscriber = LiveSubscriber(tenant: tenant, user: user, backlog: backlog)
        lock.withLock {
            subscribers[Key(tenant: tenant, user: user), default: [:]][ObjectIdentifier(subscriber)] = subscriber
            if poller == nil { poller = Task { [weak self] in await self?.poll() } }
        }
        return subscriber
    }

    /// Ends a subscription (its stream ends with `reason`, if it has not ended already).
    func unsubscribe(_ subscriber: LiveSubscriber, reason: LiveSubscriber.End = .closed) {
        lock.withLock {
            let key = Key(tenant: subscriber.tenant, user: subscriber.user)
            subscribers[key]?.removeValue(forKey: ObjectIdentifier(subscriber))
            if subscribers[key]?.isEmpty == true { subscribers[key] = nil }
        }
        subscriber.end(reason)
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
                for subscriber in lock.withLock({ subscribers.values.flatMap(\.values) }) { subscriber.beat() }
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
            let deliveries = lock.withLock {
                subscribers.compactMap { key, subscribers -> ([LiveSubscriber], [InboxEvent])? in
                    let mine = ((byUser[key] ?? []) + (byTenant[key.tenant] ?? [])).sorted { $0.id < $1.id }
                    return mine.isEmpty ? nil : (Array(subscribers.values), mine)
                }
            }
            for (subscribers, events) in deliveries {
                for subscriber in subscribers { subscriber.push(events) }
            }
        }
    }
}

/// One live client's queue: the events waiting for it, at most `backlog`; past that the client
/// is too slow and its stream ends (`End.slow`).
///
/// `@unchecked Sendable`: its queue is behind one NSLock and a waiting continuation is resumed outside it.
final class LiveSubscriber: @unchecked Sendable {
    /// Why a stream ended.
    enum End: Sendable, Equatable {
        /// The client went away, or the request ended.
        case closed
        /// More than the backlog waited: the client does not read.
        case slow
        /// The server is stopping.
        case shutdown
    }

    /// What the stream gets next.
    enum Signal: Sendable {
        /// Changes, oldest first.
        case events([InboxEvent])
        /// Time for a keep-alive comment.
        case heartbeat
    }

    let tenant: String
    let user: String
    private static let writeSize = 64
    private let backlog: Int
    private let lock = NSLock()
    /// Arrays the poller handed out, shared with every subscriber of the same user (not copied
    /// per client), and how far into the first one this client has read.
    private var pending: [[InboxEvent]] = []
    private var pendingCount = 0
    private var offset = 0
    private var beating = false
    private var ended: End?
    private var reader: CheckedContinuation<Signal?, Never>?
    private var watchers: [CheckedContinuation<End, Never>] = []

    init(tenant: String, user: String, backlog: Int) {
        self.tenant = tenant
        self.user = user
        self.backlog = backlog
    }

    /// Queues `events`. When the client has not taken what came before and more than the
    /// backlog would wait, the stream ends as too slow (one poll's worth for a client that keeps
    /// up is never too much).
    func push(_ events: [InboxEvent]) {
        let overflow = lock.withLock { () -> Bool in
            guard ended == nil, !events.isEmpty else { return false }
            if pendingCount > 0 && pendingCount + events.count > backlog { return true }
            pending.append(events)
            pendingCount += events.count
            return false
        }
        if overflow { end(.slow) } else { wake() }
    }

    /// Asks for a keep-alive comment.
    func beat() {
        lock.withLock { beating = true }
        wake()
    }

    /// Ends the stream for `reason` (the first reason counts).
    func end(_ reason: End) {
        lock.lock()
        if ended == nil { ended = reason }
        let final = ended ?? reason
        pending = []
        pendingCount = 0
        offset = 0
        let reader = self.reader, watchers = self.watchers
        self.reader = nil
        self.watchers = []
        lock.unlock()
        reader?.resume(returning: nil)
        for watcher in watchers { watcher.resume(returning: final) }
    }

    /// Why the stream ended, once it has.
    var endReason: End? { lock.withLock { ended } }

    /// What to write next, waiting for it; nil once the stream has ended.
    func next() async -> Signal? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Signal?, Never>) in
                lock.lock()
                if ended != nil {
                    lock.unlock()
                    continuation.resume(returning: nil)
                } else if let signal = takeLocked() {
                    lock.unlock()
                    continuation.resume(returning: signal)
                } else {
                    reader = continuation
                    lock.unlock()
                }
            }
        } onCancel: {
            end(.closed)
        }
    }

    /// Waits until the stream ends; says why.
    func waitForEnd() async -> End {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<End, Never>) in
                lock.lock()
                if let ended {
                    lock.unlock()
                    continuation.resume(returning: ended)
                } else {
                    watchers.append(continuation)
                    lock.unlock()
                }
            }
        } onCancel: {
            end(.closed)
        }
    }

    private func takeLocked() -> Signal? {
        if let first = pending.first {
            // A few hundred at a time: one write holds no more than that in memory.
            let end = min(first.count, offset + Self.writeSize)
            let taken = Array(first[offset..<end])
            offset = end
            if offset == first.count {
                pending.removeFirst()
                offset = 0
            }
            pendingCount -= taken.count
            return .events(taken)
        }
        if beating {
            beating = false
            return .heartbeat
        }
        return nil
    }

    private func wake() {
        lock.lock()
        guard let reader, let signal = takeLocked() else {
            lock.unlock()
            return
        }
        self.reader = nil
        lock.unlock()
        reader.resume(returning: signal)
    }
}

/// Server-Sent Events text.
enum ServerSentEvent {
    /// One event: `id`, `event` and one `data` line of JSON.
    static func text(id: Int64, event: String, json: String) -> String {
        "id: \(id)\nevent: \(event)\ndata: \(json)\n\n"
    }
}
