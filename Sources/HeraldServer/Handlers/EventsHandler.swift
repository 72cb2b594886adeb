import Foundation
import HeraldCore
import HeraldInbox
import HTTPTypes
import Hummingbird
import ServiceLifecycle

/// Live events (`GET /v1/users/{user}/events`).
extension HeraldServer {
    /// Server-Sent Events for one user: `message` (a new 站内信, shaped like a list item), `notice`
    /// (a new announcement of the tenant) and `unread` (the count, after any change). Each event's
    /// id resumes a reconnect (`Last-Event-ID`, or `?last_event_id=`) with what was missed.
    func events(_ request: Request, _ context: HeraldRequestContext, hub: LiveHub) async throws -> Response {
        let (tenant, user) = try identity(context)
        let given = request.headers.first { $0.name.canonicalName == "last-event-id" }?.value
            ?? request.uri.queryParameters.get("last_event_id")
        let asked: Int64?
        if let given {
            guard let id = Int64(given), id >= 0 else { throw APIError.badRequest("Last-Event-ID must be an event id from this stream, not '\(given)'") }
            asked = id
        } else {
            asked = nil
        }
        let store = store, now = now
        // Where this stream starts, then the subscription, then whatever came after the start
        // (a resume's missed events, or a change between the two): nothing falls in between, and
        // ids drop what arrives twice.
        let start = try await store.latestEventID()
        // An id beyond the newest event (a restored database, a client of another deployment)
        // would make every later event look old: the stream starts afresh and says so.
        let future = asked.map { $0 > start } ?? false
        let resume = future ? nil : asked
        let subscriber = hub.subscribe(tenant: tenant, user: user)
        var missed = try await store.events(after: resume ?? start, tenant: tenant, user: user, limit: 1000)
        // More missed than one answer holds: the client reloads instead of silently losing the rest.
        let overflowed = missed.count == 1000
        if overflowed { missed = try await store.events(after: start, tenant: tenant, user: user, limit: 1000) }
        var headers: HTTPFields = [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"]
        if let name = HTTPField.Name("X-Accel-Buffering") { headers[name] = "no" }
        let logger = context.logger
        let backlog = missed
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            defer { hub.unsubscribe(subscriber) }
            let output = StreamOutput(writer: writer)
            // The stream is written in a child task, so a client that stops reading (its write
            // never returns) can be cut off: when it falls a backlog behind, or when the server
            // stops, the watcher ends the group and the write is cancelled.
            let reason: LiveSubscriber.End? = try await withGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: LiveSubscriber.End?.self) { group in
                    group.addTask {
                        var sent = resume ?? start
                        func write(_ events: [InboxEvent]) async throws {
                            var text = ""
                            for event in events where event.id > sent {
                                sent = event.id
                                guard let item = event.item, event.kind != .changed else { continue }
                                text += ServerSentEvent.text(id: event.id, event: event.kind.rawValue, json: JSON.encode(item))
                            }
                            let count = try await store.unreadCount(tenant: tenant, user: user, now: now())
                            text += ServerSentEvent.text(id: sent, event: "unread", json: #"{"unread":\#(count)}"#)
                            try await output.write(text)
                        }
                        try await output.write("retry: 2000\n\n")
                        if future || overflowed {
                            let reason = future ? "Last-Event-ID is newer than any event; reload the inbox"
                                                : "more events were missed than one reconnect delivers; reload the inbox"
                            sent = start
                            try await output.write(ServerSentEvent.text(id: start, event: "resync", json: JSON.encode(["reason": reason])))
                        }
                        try await write(backlog)
                        while let signal = await subscriber.next() {
                            switch signal {
                            case .heartbeat: try await output.write(": keep-alive\n\n")
                            case let .events(events): try await write(events)
                            }
                        }
                        return nil
                    }
                    group.addTask {
                        let end = await subscriber.waitForEnd()
                        return end == .closed ? nil : end
                    }
                    let first = try await group.next() ?? nil
                    group.cancelAll()
                    return first ?? subscriber.endReason.flatMap { $0 == .closed ? nil : $0 }
                }
            } onGracefulShutdown: {
                hub.unsubscribe(subscriber, reason: .shutdown)
            }
            switch reason {
            case .slow?:
                logger.warning("live client dropped: it fell more than a backlog of events behind", metadata: ["tenant": .string(tenant)])
                throw CancellationError()
            case .shutdown?:
                throw CancellationError()
            default:
                try await output.finish()
            }
        })
    }
}

/// The writer of one streamed response, handed to the child task that writes it (only that
/// task writes while it runs; the handler finishes after the task group is done).
///
/// `@unchecked Sendable`: Hummingbird's body writer is not Sendable; one task writes at a time (see above).
private final class StreamOutput: @unchecked Sendable {
    private var writer: any ResponseBodyWriter

    init(writer: any ResponseBodyWriter) {
        self.writer = writer
    }

    func write(_ text: String) async throws {
        try await writer.write(ByteBuffer(string: text))
    }

    func finish() async throws {
        try await writer.finish(nil)
    }
}
