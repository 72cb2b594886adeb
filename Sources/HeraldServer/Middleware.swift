import Foundation
import Synchronization
import HeraldCore
import Hummingbird
import Logging

/// `Authorization: Bearer <token>` against `serve.clients`, and `X-Tenant-Id` (default 0)
/// against the client's tenants: 401 without a valid token, 403 for a tenant not its own.
struct BearerAuthMiddleware: RouterMiddleware {
    typealias Context = HeraldRequestContext
    let clients: [ServeClient]
    /// The scope the routes behind it need (`inbox` or `send`).
    var scope: ServeClient.Scope = .inbox

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A browser's EventSource cannot send headers: the live event stream also takes
        // `?access_token=` and `?tenant=` (the access log shows paths without their query).
        let isEventStream = request.method == .get && request.uri.path.hasSuffix("/events")
        let queryToken = isEventStream ? request.uri.queryParameters.get("access_token") : nil
        guard let header = request.headers[.authorization] ?? queryToken.map({ "Bearer \($0)" }) else {
            throw APIError.unauthorized("send Authorization: Bearer <token> (serve.clients in herald.yaml)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the Authorization header must be Bearer <token>")
        }
        let token = String(parts[1]).trimmingCharacters(in: .whitespaces)
        // Every token is compared, so the time taken does not tell which one nearly matched.
        var found: ServeClient?
        for client in clients where !client.token.value.isEmpty && constantTimeEqual(token, client.token.value) {
            found = client
        }
        guard let client = found else { throw APIError.unauthorized("the bearer token is not one of serve.clients") }
        let tenant = request.headers.first { $0.name.canonicalName == "x-tenant-id" }?.value
            ?? (isEventStream ? request.uri.queryParameters.get("tenant") : nil) ?? "0"
        guard !tenant.isEmpty, tenant.count <= 64,
              tenant.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw APIError.badRequest("X-Tenant-Id must be 1 to 64 letters, digits, '-' or '_'")
        }
        guard client.scopes.contains(scope) else {
            throw APIError.forbidden("client '\(client.name)' has no '\(scope)' scope; add it to serve.clients.\(client.name).scopes")
        }
        guard client.allows(tenant: tenant) else {
            throw APIError.forbidden("client '\(client.name)' may not act in tenant \(tenant); its tenants are \(client.tenants.joined(separator: ", "))")
        }
        context.access.set(client: client.name, tenant: tenant)
        return try await next(request, context)
    }
}

/// The routes, filled once the router is built (middleware is added before the routes it wraps).
final class RouteTable: Sendable {
    private let table = Mutex<[(method: String, path: [String])]>([])

    func set(_ routes: [(method: String, path: String)]) {
        table.withLock { $0 = routes.map { ($0.method, $0.path.split(separator: "/").map(String.init)) } }
    }

    /// The methods of the routes whose path pattern matches `path` (`{x}` matches one segment).
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/")
        return table.withLock { routes in
            routes.filter { route in
                route.path.count == segments.count
                    && zip(route.path, segments).allSatisfy { pattern, segment in pattern.hasPrefix("{") || pattern == segment }
            }.map(\.method).sorted()
        }
    }
}

/// 405 with `Allow` for a known path asked with another method (the router alone says 404).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = HeraldRequestContext
    let table: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as any HTTPResponseError where error.status == .notFound && !(error is APIError) {
            let allowed = table.methods(for: request.uri.path)
            guard !allowed.isEmpty else { throw APIError.notFound("no such endpoint: \(request.uri.path)") }
            var refusal = APIError(status: .methodNotAllowed, code: "method_not_allowed",
                                   message: "\(request.method.rawValue) is not allowed here; use \(allowed.joined(separator: " or "))")
            refusal.headers[.allow] = allowed.joined(separator: ", ")
            throw refusal
        }
    }
}

/// One structured log entry per request after it is answered: method, path (with the receipt
/// secret hidden), status, duration, client and tenant.
struct AccessLogMiddleware: RouterMiddleware {
    typealias Context = HeraldRequestContext
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            log(request, context, status: response.status.code, start: start)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            log(request, context, status: status, start: start, error: error)
            throw error
        }
    }

    private func log(_ request: Request, _ context: Context, status: Int, start: ContinuousClock.Instant, error: (any Error)? = nil) {
        let elapsed = ContinuousClock.now - start
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue),
            "path": .string(Self.redacted(request.uri.path)),
            "status": .stringConvertible(status),
            "duration_ms": .string(String(format: "%.3f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)),
            "request_id": .string(context.id),
        ]
        if let client = context.access.client { metadata["client"] = .string(client) }
        if let tenant = context.access.tenant { metadata["tenant"] = .string(tenant) }
        if let error = error as? APIError { metadata["error"] = .string(error.code) }
        else if let error, !(error is any HTTPResponseError) { metadata["error"] = .string("\(error)") }
        logger.log(level: status >= 500 ? .error : .info, "access", metadata: metadata)
    }

    /// `/v1/receipts/aliyun/s3cr3t…` → `/v1/receipts/aliyun/***`.
    static func redacted(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 5, parts[1] == "v1", parts[2] == "receipts" else { return path }
        return (parts.prefix(4) + ["***"]).joined(separator: "/")
    }
}

/// swift-log to standard error as one JSON object per line:
/// `{"ts":"…","level":"info","message":"access","method":"GET",…}`.
public struct JSONLogHandler: LogHandler {
    /// Metadata added to every entry of this logger.
    public var metadata: Logger.Metadata = [:]
    /// Entries below this level are dropped.
    public var logLevel: Logger.Level = .info
    private let label: String
    private let timeZone: TimeZone
    private static let lock = NSLock()

    /// A handler for the logger `label`; timestamps in `timeZone` (herald.yaml's).
    public init(label: String, timeZone: TimeZone) {
        self.label = label
        self.timeZone = timeZone
    }

    /// One metadata value.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes the entry as one JSON line on standard error.
    public func log(event: Logging.LogEvent) {
        var fields: [String: String] = ["ts": Timestamp.iso8601(Date(), timeZone: timeZone), "level": event.level.rawValue,
                                        "logger": label, "message": "\(event.message)"]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { fields[key] = "\(value)" }
        if let error = event.error { fields["error"] = "\(error)" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var line = try? encoder.encode(fields) else { return }
        line.append(0x0A)
        Self.lock.withLock { Console.write(Array(line), to: .standardError) }
    }
}
