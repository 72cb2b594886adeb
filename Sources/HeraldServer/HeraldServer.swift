import Foundation
import Synchronization
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
final class AccessRecord: Sendable {
    private let values = Mutex<(client: String?, tenant: String?)>((nil, nil))

    var client: String? { values.withLock { $0.client } }
    var tenant: String? { values.withLock { $0.tenant } }

    func set(client: String, tenant: String) {
        values.withLock { $0 = (client, tenant) }
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

    var settings: ServeSettings { workspace.configuration.serve }

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

        let senders = router.group("/v1/notifications").add(middleware: BearerAuthMiddleware(clients: Array(settings.clients.values), scope: .send))
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

    // MARK: - Helpers

    /// The request body, or 413 when it is longer than `serve.max_body`.
    func collect(_ request: Request, _ context: HeraldRequestContext) async throws -> ByteBuffer {
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
    func pathParameter(_ context: HeraldRequestContext, _ name: String) throws -> String {
        let raw = try context.parameters.require(name)
        guard let decoded = raw.removingPercentEncoding, !decoded.isEmpty else {
            throw APIError.badRequest("the \(name) in the path is not valid percent-encoded UTF-8: '\(raw)'")
        }
        return decoded
    }

    /// A query parameter given at most once (`page=1&page=2` is ambiguous, so refused).

    func single(_ query: Parameters, _ name: String) throws -> String? {
        let values = query.getAll(name)
        guard values.count <= 1 else { throw APIError.badRequest("give \(name) once, not \(values.count) times") }
        return values.first
    }

    func flag(_ text: String?, name: String) throws -> Bool {
        switch text {
        case nil, "false": return false
        case "true": return true
        case let other?: throw APIError.badRequest("\(name) must be true or false, not '\(other)'")
        }
    }

    func number(_ text: String?, name: String, default fallback: Int, range: ClosedRange<Int>) throws -> Int {
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
