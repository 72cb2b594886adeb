import Foundation
import HeraldCore
import HeraldInbox
import HeraldReports
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import ServiceLifecycle

/// The context of one request: the authenticated client and tenant, shared with the access log.
public struct HeraldRequestContext: RequestContext {
    /// Hummingbird's per-request storage (parameters, logger, request id).
    public var coreContext: CoreRequestContextStorage
    /// Filled by the authentication middleware; read back by the access log after the response.
    let access = AccessRecord()

    /// Creates the context of a request arriving on a connection.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// Who made a request, for the access log (the context is copied down the chain; this is not).
final class AccessRecord: @unchecked Sendable {
    private let lock = NSLock()
    private var values: (client: String?, tenant: String?) = (nil, nil)

    var client: String? { lock.withLock { values.client } }
    var tenant: String? { lock.withLock { values.tenant } }

    func set(client: String, tenant: String) {
        lock.withLock { values = (client, tenant) }
    }
}

/// `herald serve`: the inbox API for products, receipt callbacks for SMS providers, health and
/// metrics, over HTTP/1.1 with Hummingbird.
///
/// ```swift
/// let server = HeraldServer(workspace: workspace, store: try SQLiteInboxStore(url: workspace.paths.database))
/// let app = server.application(logger: logger) { port in print("listening on \(port)") }
/// try await app.runService()   // until SIGTERM or SIGINT
/// ```
public struct HeraldServer: Sendable {
    /// The workspace served (herald.yaml's `serve:`, the receipts folder, the logs for /metrics).
    public let workspace: Workspace
    /// Where the inbox is read and marked.
    public let store: any InboxStore
    /// The clock for announcements' time windows and read times.
    public var now: @Sendable () -> Date

    /// The receipt parser of each SMS provider transport, for the receipt callback.
    public var receiptParsers: [TransportKind: any ReceiptParser]
    /// Where receipt pushes are kept when state is shared (PostgreSQL rows); nil writes them as
    /// files into `recipients/inbox/receipts/<channel>/`.
    public var receiptQueue: (any ReceiptQueue)?
    /// Where one-click unsubscribes are recorded; nil: the workspace's preferences.csv.
    public var optOuts: (any OptOutStore)?
    /// With a PostgreSQL store: where `POST /v1/notifications` queues batches and remembers keys.
    public var sharedIngest: (queue: any WorkQueue, records: any IngestRecords, worker: String)?
    /// How often live clients' changes are looked for (default 200 ms).
    public var livePollInterval: Duration = .milliseconds(200)
    /// How often an idle live client gets a keep-alive comment (default 15 s).
    public var liveHeartbeat: Duration = .seconds(15)

    /// Creates the server for `workspace`, reading and writing the inbox through `store`, and
    /// checking receipt pushes with `receiptParsers` (HeraldChannels' `ProviderReceipts.parsers`).
    public init(workspace: Workspace, store: any InboxStore, receiptParsers: [TransportKind: any ReceiptParser] = [:],
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.workspace = workspace
        self.store = store
        self.receiptParsers = receiptParsers
        self.now = now
    }

    private var settings: ServeSettings { workspace.configuration.serve }

    /// Problems that keep the server from starting: secrets that are not set.
    public var startupProblems: [String] {
        var problems: [String] = []
        for client in settings.clients.values.sorted(by: { $0.name < $1.name }) where client.token.value.isEmpty {
            problems.append("environment variable \(client.token.variable) (token of serve client '\(client.name)') is not set")
        }
        if let secret = settings.receiptSecret, secret.value.isEmpty {
            problems.append("environment variable \(secret.variable) (serve.receipts secret) is not set")
        }
        return problems
    }

    /// Raises this process's open-file limit to its hard limit and returns a warning when even
    /// that leaves fewer than 64 descriptors beyond `serve.max_connections` (for the database,
    /// logs and the listening socket): then the cap, not the kernel, must be what turns
    /// connections away.
    public func prepareDescriptorLimit() -> String? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let available = Int(clamping: limit.rlim_cur)
        guard settings.maxConnections + 64 > available else { return nil }
        return "serve.max_connections is \(settings.maxConnections), but this process may open only \(available) files; "
            + "lower max_connections below \(max(1, available - 64)) or raise the limit (LimitNOFILE= in systemd, ulimit -n)"
    }

    /// The router with every route; the OpenAPI test compares its routes with the document.

    public func router(logger: Logger) -> Router<HeraldRequestContext> {
        let router = Router(context: HeraldRequestContext.self)
        let table = RouteTable()
        router.add(middleware: AccessLogMiddleware(logger: logger))
        router.add(middleware: MethodNotAllowedMiddleware(table: table))
        router.get("/healthz") { _, _ in try await health() }
        router.get("/metrics") { _, _ in try await metrics() }
        router.get("/v1/demo") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                     body: .init(byteBuffer: ByteBuffer(string: DemoPage.html)))
        }
        router.post("/v1/receipts/{channel}/{secret}") { request, context in try await receipt(request, context) }
        let unsubscribe = UnsubscribePages(workspace: workspace, optOuts: optOuts ?? FileOptOutStore(root: workspace.root))
        router.get("/v1/unsubscribe/{token}") { _, context in try unsubscribe.confirm(try pathParameter(context, "token")) }
        router.post("/v1/unsubscribe/{token}") { _, context in try await unsubscribe.unsubscribe(try pathParameter(context, "token")) }

        let senders = router.group("/v1/notifications").add(middleware: BearerAuthMiddleware(clients: Array(settings.clients.values), scope: "send"))
        senders.post { request, context in try await notify(request, context) }

        let users = router.group("/v1/users").add(middleware: BearerAuthMiddleware(clients: Array(settings.clients.values)))
        users.get("{user}/messages") { request, context in try await list(request, context) }
        users.get("{user}/unread-count") { _, context in try await unreadCount(context) }
        let hub = LiveHub(store: store, interval: livePollInterval, heartbeat: liveHeartbeat, backlog: settings.liveBacklog)
        users.get("{user}/events") { request, context in try await events(request, context, hub: hub) }
        users.post("{user}/messages/read-all") { _, context in try await readAll(context) }
        users.post("{user}/messages/read") { request, context in try await readMany(request, context) }
        users.post("{user}/messages/{id}/read") { _, context in try await readOne(context) }
        table.set(router.routes.map { (method: $0.method.rawValue, path: $0.path.description) })
        return router
    }

    /// The application listening on `bind` (herald.yaml's `serve.bind` unless given).
    public func application(logger: Logger, host: String? = nil, port: Int? = nil,
                            onListening: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(logger: logger),
                    server: .http1(configuration: .init(idleTimeout: .nanoseconds(Int64(settings.idleTimeout.seconds * 1e9)))),
                    configuration: .init(address: .hostname(host ?? settings.host, port: port ?? settings.port),
                                         serverName: "herald",
                                         availableConnectionsDelegate: MaximumAvailableConnections(settings.maxConnections, logger: logger)),

                    onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
                    logger: logger)
    }

    /// Runs `app` until SIGTERM or SIGINT: live streams end at once and other requests may
    /// finish; whatever still runs after `grace` (a client that never reads what it asked for)
    /// is cancelled, so serve always stops within seconds.
    public static func run(_ app: some ApplicationProtocol, logger: Logger, grace: Duration = .seconds(10)) async throws {
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = grace
        try await ServiceGroup(configuration: configuration).run()
    }

    // MARK: - Health and metrics

    private func health() async throws -> Response {
        do {
            _ = try await store.unreadCount(tenant: "0", user: "", now: now())
            return JSON.response(["status": "ok", "version": HeraldVersion.current])
        } catch {
            return JSON.response(["status": "unavailable", "reason": "\(error)"], status: .serviceUnavailable)
        }
    }

    private func metrics() async throws -> Response {
        let root = workspace.root, zone = workspace.configuration.timeZone
        let text = try await blocking { try MetricsFile.update(root: root, timeZone: zone) }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: - Inbox

    private func list(_ request: Request, _ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        let query = request.uri.queryParameters
        let unread = try flag(try single(query, "unread"), name: "unread")
        let page = try number(try single(query, "page"), name: "page", default: 1, range: 1...1_000_000)
        let size = try number(try single(query, "size"), name: "size", default: 20, range: 1...100)
        let result = try await store.list(tenant: tenant, user: user, unreadOnly: unread, page: page, size: size, now: now())
        return JSON.response(result)
    }

    private func unreadCount(_ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        let count = try await store.unreadCount(tenant: tenant, user: user, now: now())
        return JSON.response(UnreadCount(tenant: tenant, user: user, unread: count))
    }

    /// Server-Sent Events for one user: `message` (a new 站内信, shaped like a list item), `notice`
    /// (a new announcement of the tenant) and `unread` (the count, after any change). Each event's
    /// id resumes a reconnect (`Last-Event-ID`, or `?last_event_id=`) with what was missed.
    private func events(_ request: Request, _ context: HeraldRequestContext, hub: LiveHub) async throws -> Response {
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

    private func readOne(_ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        let id = try pathParameter(context, "id")
        return try await changed { try await store.markRead(tenant: tenant, user: user, ids: [id], now: now()) }
    }

    private func readMany(_ request: Request, _ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        let body = try await collect(request, context)
        let ids: [String]
        do {
            ids = try JSONDecoder().decode(ReadRequest.self, from: Data(buffer: body)).ids
        } catch let error as DecodingError {
            throw APIError.badRequest("the body must be JSON like {\"ids\": [\"123\", \"n7\"]}: \(Self.explain(error))", code: "malformed_json")
        }
        guard !ids.isEmpty, ids.count <= 1000 else { throw APIError.badRequest("give 1 to 1000 ids in \"ids\"") }
        return try await changed { try await store.markRead(tenant: tenant, user: user, ids: ids, now: now()) }
    }

    private func readAll(_ context: HeraldRequestContext) async throws -> Response {
        let (tenant, user) = try identity(context)
        return try await changed { try await store.markAllRead(tenant: tenant, user: user, now: now()) }
    }

    private func changed(_ work: () async throws -> Int) async throws -> Response {
        do {
            return JSON.response(["changed": try await work()])
        } catch let error as InboxError {
            throw APIError.notFound(error.message)
        }
    }

    private func identity(_ context: HeraldRequestContext) throws -> (tenant: String, user: String) {
        let user = try pathParameter(context, "user")
        guard let tenant = context.access.tenant else { throw APIError.unauthorized("no client authenticated") }
        return (tenant, user)
    }

    // MARK: - Receipts

    private func receipt(_ request: Request, _ context: HeraldRequestContext) async throws -> Response {
        let channel = try context.parameters.require("channel")
        let given = try context.parameters.require("secret")
        // A wrong secret looks exactly like a path that does not exist, and writes nothing.
        guard let secret = settings.receiptSecret, !secret.value.isEmpty, constantTimeEqual(given, secret.value) else {
            throw APIError.notFound("no such endpoint")
        }
        let files = ReceiptFiles(root: workspace.root, configuration: workspace.configuration, parsers: receiptParsers)
        let format: any ReceiptParser
        do {
            format = try files.format(channel: channel)
        } catch {
            throw APIError.notFound("no such endpoint")
        }
        let body = Data(buffer: try await collect(request, context))
        let accepted: (kept: String, receipts: Int)
        do {
            if let receiptQueue {
                // Shared store: the push becomes a row any worker ingests (checked first, as a file would be).
                let count = try format.parse(body, channel: channel).count
                let at = now()
                try await receiptQueue.put(channel: channel, body: body, at: at)
                accepted = ("herald_receipts", count)
            } else {
                let file = try await blocking { try files.accept(body, channel: channel, now: now()) }
                accepted = (file.file.lastPathComponent, file.receipts)
            }
        } catch let rejection as BatchRejection {
            throw APIError.badRequest("not a \(format.name) receipt push: \(rejection.reason)", code: "malformed_receipt")
        }
        context.logger.info("receipts stored", metadata: ["channel": .string(channel), "receipts": .stringConvertible(accepted.receipts),
                                                          "file": .string(accepted.kept)])
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: format.acknowledgement)))
    }

    // MARK: - Ingest

    private func notify(_ request: Request, _ context: HeraldRequestContext) async throws -> Response {
        guard let tenant = context.access.tenant, let client = context.access.client else {
            throw APIError.unauthorized("no client authenticated")
        }
        let body = Data(buffer: try await collect(request, context))
        let key = request.headers.first { $0.name.canonicalName == "idempotency-key" }?.value
        var ingest = NotificationIngest(workspace: workspace)
        if let sharedIngest {
            ingest.queue = sharedIngest.queue
            ingest.records = sharedIngest.records
            ingest.worker = sharedIngest.worker
        }
        let outcome = try await ingest.accept(body, key: key, tenant: tenant, client: client)
        func json(_ status: HTTPResponse.Status, _ object: [String: Any], replayed: Bool = false) throws -> Response {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
            if replayed, let name = HTTPField.Name("Idempotent-Replayed") { headers[name] = "true" }
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        switch outcome {
        case let .accepted(answer, replayed):
            context.logger.info("notifications accepted", metadata: ["batch": .string(answer["batch"] as? String ?? ""),
                                                                     "replayed": .stringConvertible(replayed)])
            return try json(.accepted, answer, replayed: replayed)
        case let .conflict(code, message):
            throw APIError(status: .conflict, code: code, message: message)
        case let .rejected(status, code, message, rows):
            guard status == 422 else { throw APIError.badRequest(message) }
            return try json(.unprocessableContent, ["error": ["code": code, "message": message, "rows": rows] as [String: Any]])
        }
    }

    // MARK: - Helpers

    /// The request body, or 413 when it is longer than `serve.max_body`.
    private func collect(_ request: Request, _ context: HeraldRequestContext) async throws -> ByteBuffer {
        let limit = settings.maxBody
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError(status: .contentTooLarge, code: "body_too_large", message: "the body is \(length) bytes; the limit is \(limit) (serve.max_body)")
        }
        do {
            return try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(status: .contentTooLarge, code: "body_too_large", message: "the body is over the limit of \(limit) bytes (serve.max_body)")
        }
    }

    /// A path parameter, percent-decoded as UTF-8 (`%E7%94%A8%E6%88%B71` is `用户1`); a
    /// malformed escape or bytes that are not UTF-8 are a 400, never a lookup of the raw text.
    private func pathParameter(_ context: HeraldRequestContext, _ name: String) throws -> String {
        let raw = try context.parameters.require(name)
        guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
            throw APIError.badRequest("the \(name) in the path is not valid percent-encoded UTF-8: '\(raw)'")
        }
        return decoded
    }

    /// A query parameter given at most once (`page=1&page=2` is ambiguous, so refused).

    private func single(_ query: Parameters, _ name: String) throws -> String? {
        let values = query.getAll(name)
        guard values.count <= 1 else { throw APIError.badRequest("give \(name) once, not \(values.count) times") }
        return values.first
    }

    private func flag(_ text: String?, name: String) throws -> Bool {
        switch text {
        case nil, "false": return false
        case "true": return true
        case let other?: throw APIError.badRequest("\(name) must be true or false, not '\(other)'")
        }
    }

    private func number(_ text: String?, name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw APIError.badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    static func explain(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context): context.underlyingError.map { "\($0.localizedDescription)" } ?? context.debugDescription
        case .keyNotFound(let key, _): "\"\(key.stringValue)\" is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        @unknown default: "\(error)"
        }
    }
}

/// Runs blocking work (SQLite, files) off the server's event loops.
func blocking<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// Compares secrets without stopping at the first difference.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
    for index in 0..<max(x.count, y.count) {
        difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
    }
    return difference == 0
}

struct UnreadCount: Codable {
    var tenant: String
    var user: String
    var unread: Int
}

struct ReadRequest: Codable {
    var ids: [String]
}

/// The writer of one streamed response, handed to the child task that writes it (only that
/// task writes while it runs; the handler finishes after the task group is done).
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
