import Foundation
import HeraldCore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The PostgreSQL connections of one process: an async client for the stores, and a small
/// synchronous bridge for the few callers that must not suspend.
///
/// **Async** (`connection(_:)`, `inTransaction(_:)`): postgres-nio's `PostgresClient`, run as a
/// ServiceLifecycle service in a `ServiceGroup` the pool owns from `init` to `close()`. A query
/// suspends its task instead of holding a thread, so the ledger lookups and writes and the work
/// queue do not take one of the cooperative pool's two threads while PostgreSQL answers.
///
/// **Synchronous** (`withSession(_:)`, `transaction(_:)`): waits on the `EventLoopFuture` of each
/// query. The connections' I/O runs on the pool's own event-loop thread, never on the caller's,
/// so a waiting caller cannot starve the I/O it waits for. Opening uses it (the schema and the
/// migrations every store runs in its `init`), and so do the callers that must not depend on the
/// cooperative pool: the lease heartbeat's timer and the send-progress writer's thread. Its
/// connections open on first use.
///
/// Each side holds at most `size` connections.
///
/// ```swift
/// let pool = try PostgresPool(url: "postgres://herald@127.0.0.1:5432/herald", size: 8)
/// try pool.migrate(PostgresLedger.migrations)
/// let count = try await pool.connection { try await $0.rows("SELECT count(*) FROM herald_ledger").first?.decode(Int.self) }
/// ```
///
/// `@unchecked Sendable`: the synchronous side's idle list is guarded by an NSCondition (callers wait for a free connection).
public final class PostgresPool: @unchecked Sendable {
    /// Where it connects (the password is never shown).
    public let location: String
    /// Connections at most.
    public let size: Int
    /// The schema every connection's `search_path` starts with.
    public let schema: String

    private let configuration: PostgresConnection.Configuration
    private let group: MultiThreadedEventLoopGroup
    private let logger = Logger(label: "herald.postgres")
    private let condition = NSCondition()
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var closed = false
    private var nextID = 0
    private var nextDedicated = 0
    /// Migrations known to be applied in this pool's schema.
    private var applied: Set<String> = []
    /// The async side: its client and the task running it in a service group (replaced when it
    /// stalls, see `connection(_:)`), and how many of its connections this process holds now.
    private let clientConfiguration: PostgresClient.Configuration
    private let async: Mutex<AsyncClient>
    private let activity = PoolActivity()

    /// Connects lazily to `url` (`postgres://user:password@host:port/database?sslmode=disable`),
    /// at most `size` connections, tables in `schema`. The URL is checked here, not used.
    public init(url: String, size: Int = 8, schema: String = "public") throws {
        let parsed = try PostgresURL(url)
        location = parsed.shown
        self.size = max(1, size)
        self.schema = schema
        var configuration = PostgresConnection.Configuration(host: parsed.host, port: parsed.port, username: parsed.user,
                                                             password: parsed.password, database: parsed.database, tls: try parsed.tls())
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = [
            ("search_path", schema), ("application_name", "herald"), ("TimeZone", "UTC"),
        ]
        self.configuration = configuration
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

        var clientConfiguration = PostgresClient.Configuration(host: parsed.host, port: parsed.port, username: parsed.user,
                                                               password: parsed.password, database: parsed.database,
                                                               tls: parsed.clientTLS())
        clientConfiguration.options.connectTimeout = .seconds(10)
        clientConfiguration.options.maximumConnections = self.size
        clientConfiguration.options.additionalStartupParameters = configuration.options.additionalStartupParameters
        self.clientConfiguration = clientConfiguration
        async = Mutex(AsyncClient(configuration: clientConfiguration, logger: logger))
    }

    deinit {
        close()
    }

    /// Closes every connection; later calls fail.
    public func close() {
        let connections: [PostgresConnection] = condition.withLock {
            closed = true
            defer { idle = [] }
            condition.broadcast()
            return idle
        }
        for connection in connections { _ = try? connection.close().wait() }
        try? group.syncShutdownGracefully()
        async.withLock { $0.running.cancel() }
    }

    /// How long a lease may wait while this process holds none of the async client's
    /// connections, and none was taken or given back, before the client is taken for stalled
    /// and replaced.
    public static let stallTimeout: Duration = .seconds(15)

    /// Runs `body` with a connection of the async client (suspending while all are busy).
    ///
    /// A lease that waits `stallTimeout` while none of this process's connections is in use, and
    /// none was taken or given back meanwhile, is not waiting for a busy pool: postgres-nio's pool
    /// can stop trying to connect after the database went away and came back (seen with `herald
    /// watch`: no connection attempt for minutes, SIGTERM unanswered). The client is then replaced
    /// by a fresh one and the call fails with that reason; the next call connects at once.
    @discardableResult
    public func connection<T: Sendable>(_ body: (PostgresSession) async throws -> T) async throws -> T {
        let client = async.withLock { $0.client }
        let granted = LeaseCount()
        let logger = logger, activity = activity
        do {
            return try await withoutActuallyEscaping(body) { body in
                // Run once, in the child task below, while this task waits for it.
                nonisolated(unsafe) let body = body
                return try await withThrowingTaskGroup(of: T?.self) { group in
                    group.addTask {
                        try await client.withConnection { connection in
                            granted.add(1)
                            activity.began()
                            defer { activity.ended() }
                            return try await body(PostgresSession(connection: connection, logger: logger))
                        }
                    }
                    group.addTask {
                        let asked = ContinuousClock.now
                        while granted.value == 0 {
                            try await Task.sleep(for: .milliseconds(500))
                            if activity.isStalled(since: asked, after: Self.stallTimeout) { throw StalledClient() }
                        }
                        return nil
                    }
                    while let next = try await group.next() {
                        if let value = next {
                            group.cancelAll()
                            return value
                        }
                    }
                    throw StalledClient()
                }
            }
        } catch is StalledClient {
            replaceStalledClient(client)
            throw PostgresStoreError("no connection to \(location) came within \(Self.stallTimeout) while none was in use; "
                + "the connection pool was started again")
        } catch let error as PSQLError {
            // The lease failed (the body's own queries throw PostgresStoreError; its other errors pass).
            throw PostgresStoreError("cannot reach \(location): \(PostgresStoreError.describe(error))")
        }
    }

    /// Replaces `stalled` by a fresh client, unless another call did already.
    private func replaceStalledClient(_ stalled: PostgresClient) {
        let old: AsyncClient? = async.withLock { current in
            guard current.client === stalled else { return nil }
            defer { current = AsyncClient(configuration: clientConfiguration, logger: logger) }
            return current
        }
        old?.running.cancel()
    }

    /// Runs `body` in one transaction of the async client: committed when it returns, rolled
    /// back when it throws.
    @discardableResult
    public func inTransaction<T: Sendable>(_ body: (PostgresSession) async throws -> T) async throws -> T {
        try await connection { session in
            try await session.run("BEGIN")
            do {
                let result = try await body(session)
                try await session.run("COMMIT")
                return result
            } catch {
                _ = try? await session.run("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs `body` with a connection of the pool (waiting for one when all are busy). A
    /// connection that broke is dropped, not handed out again.
    @discardableResult
    public func withSession<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let connection = try checkOut()
        do {
            let result = try body(PostgresSession(connection: connection, logger: logger))
            checkIn(connection)
            return result
        } catch {
            checkIn(connection)
            throw error
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    @discardableResult
    public func transaction<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try withSession { session in
            try session.execute("BEGIN")
            do {
                let result = try body(session)
                try session.execute("COMMIT")
                return result
            } catch {
                _ = try? session.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// A connection of its own, outside the pool (a session-level lock lives as long as it does);
    /// the caller closes it.
    func dedicatedConnection() throws -> PostgresConnection {
        nextDedicated += 1
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: 1_000_000 + nextDedicated,
                                                  logger: logger).wait()
        } catch {
            throw PostgresStoreError("cannot connect to \(location): \(PostgresStoreError.describe(error))")
        }
    }

    /// Applies the migrations not yet applied, in order, under an advisory lock so processes
    /// starting together migrate once. Identifiers are recorded in `herald_migrations`.
    public func migrate(_ migrations: [(identifier: String, sql: String)]) throws {
        // Every store migrates as it opens: once this pool has seen them applied, no round trip.
        if condition.withLock({ migrations.allSatisfy { applied.contains($0.identifier) } }) { return }
        try withSession { session in
            try session.execute("SELECT pg_advisory_lock(\(Self.migrationLock))")
            defer { _ = try? session.execute("SELECT pg_advisory_unlock(\(Self.migrationLock))") }
            try session.execute("""
                CREATE TABLE IF NOT EXISTS herald_migrations (
                    identifier TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """)
            let applied = Set(try session.query("SELECT identifier FROM herald_migrations").map { try $0.decode(String.self) })
            defer { condition.withLock { self.applied.formUnion(applied) } }
            for migration in migrations where !applied.contains(migration.identifier) {
                try session.execute("BEGIN")
                do {
                    try session.script(migration.sql)
                    try session.execute("INSERT INTO herald_migrations (identifier) VALUES ($1)", [migration.identifier])
                    try session.execute("COMMIT")
                    condition.withLock { _ = self.applied.insert(migration.identifier) }
                } catch {
                    _ = try? session.execute("ROLLBACK")
                    throw PostgresStoreError("migration \(migration.identifier) failed: \(String(reflecting: error))")
                }
            }
        }
    }

    /// The advisory lock key of migrations ("HERALD" in ASCII).
    static let migrationLock: Int64 = 0x48_45_52_41_4C_44

    private func checkOut() throws -> PostgresConnection {
        condition.lock()
        while true {
            if closed {
                condition.unlock()
                throw PostgresStoreError("the PostgreSQL pool is closed")
            }
            if let connection = idle.popLast() {
                condition.unlock()
                if connection.isClosed {
                    condition.withLock { open -= 1 }
                    return try checkOut()
                }
                return connection
            }
            if open < size {
                open += 1
                nextID += 1
                let id = nextID
                condition.unlock()
                do {
                    return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger).wait()
                } catch {
                    condition.withLock {
                        open -= 1
                        condition.signal()
                    }
                    throw PostgresStoreError("cannot connect to \(location): \(PostgresStoreError.describe(error))")
                }
            }
            condition.wait()
        }
    }

    private func checkIn(_ connection: PostgresConnection) {
        condition.withLock {
            if connection.isClosed || closed {
                open -= 1
            } else {
                idle.append(connection)
            }
            condition.signal()
        }
        if closed { _ = try? connection.close().wait() }
    }
}

/// One connection of the pool, lent to a closure: queries run one after another on it.
public struct PostgresSession: Sendable {
    let connection: PostgresConnection
    let logger: Logger

    init(connection: PostgresConnection, logger: Logger = Logger(label: "herald.postgres")) {
        self.connection = connection
        self.logger = logger
    }

    /// Runs `sql` with `$1…` bound to `binds` and returns every row (synchronous side).
    @discardableResult
    public func query(_ sql: String, _ binds: [(any PostgresEncodable)?] = []) throws -> [PostgresRow] {
        let bindings = try Self.bindings(binds)
        do {
            return try answer(connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger)).rows
        } catch {
            throw PostgresStoreError(PostgresStoreError.describe(error))
        }
    }

    /// Runs `sql` with `$1…` bound to `binds` and returns every row, suspending while it runs.
    @discardableResult
    public func rows(_ sql: String, _ binds: [(any PostgresEncodable)?] = []) async throws -> [PostgresRow] {
        do {
            return try await connection.query(PostgresQuery(unsafeSQL: sql, binds: try Self.bindings(binds)), logger: logger).get().rows
        } catch {
            throw PostgresStoreError(PostgresStoreError.describe(error))
        }
    }

    /// Runs a statement and returns how many rows it touched, suspending while it runs.
    @discardableResult
    public func run(_ sql: String, _ binds: [(any PostgresEncodable)?] = []) async throws -> Int {
        do {
            let result = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: try Self.bindings(binds)), logger: logger).get()
            return result.metadata.rows ?? 0
        } catch {
            throw PostgresStoreError(PostgresStoreError.describe(error))
        }
    }

    /// The longest the synchronous side waits for a statement's answer. A connection whose peer
    /// vanished without closing it (a network that drops packets, a proxy that stalls) otherwise
    /// leaves a blocking caller waiting for ever: seen as a `herald watch` that ignored SIGTERM
    /// while taking its worker name back.
    public static let answerTimeout: TimeInterval = 60

    /// Waits for `future` at most `limit` (nil: for ever); past that the connection is closed (it
    /// cannot be trusted to answer in order any more) and an error says so.
    func answer<T: Sendable>(_ future: EventLoopFuture<T>, within limit: TimeInterval? = answerTimeout) throws -> T {
        guard let limit else { return try future.wait() }
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { _ in done.signal() }
        guard done.wait(timeout: .now() + limit) == .success else {
            connection.close().whenComplete { _ in }
            throw PostgresStoreError("the database did not answer within \(Int(limit)) s; the connection was closed")
        }
        return try future.wait()
    }

    static func bindings(_ binds: [(any PostgresEncodable)?]) throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            if let value { try bindings.append(value) } else { bindings.appendNull() }
        }
        return bindings
    }

    /// Runs several statements separated by semicolons, without parameters (migrations), one by
    /// one: the extended protocol takes one statement at a time.
    public func script(_ sql: String) throws {
        // No answer timeout: an index built over a large table may take minutes.
        for statement in Self.statements(sql) { try execute(statement, timeout: nil) }
    }

    /// `sql` split at semicolons outside quotes and `$$` bodies.
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inQuote = false, inDollar = false
        var previous: Character = " "
        for character in sql {
            if character == "'" && !inDollar { inQuote.toggle() }
            if character == "$" && previous == "$" && !inQuote { inDollar.toggle() }
            if character == ";" && !inQuote && !inDollar {
                statements.append(current)
                current = ""
            } else {
                current.append(character)
            }
            previous = character
        }
        statements.append(current)
        return statements.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// Runs a statement and returns how many rows it touched (synchronous side).
    @discardableResult
    public func execute(_ sql: String, _ binds: [(any PostgresEncodable)?] = [], timeout: TimeInterval? = answerTimeout) throws -> Int {
        let bindings = try Self.bindings(binds)
        do {
            let result = try answer(connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger), within: timeout)
            return result.metadata.rows ?? 0
        } catch {
            throw PostgresStoreError(PostgresStoreError.describe(error))
        }
    }
}

/// A PostgreSQL store failed; the message names the server's reason.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    /// What failed.
    public var message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }

    /// The server's message of a postgres-nio error (its description hides it on purpose).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            let code = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return message + code
        }
        if let underlying = error.underlying {
            // NIO's connection errors list every address tried; the last reason is the telling one.
            if let connection = underlying as? NIOConnectionError, let last = connection.connectionErrors.last {
                return "\(error.code): \(last.error)"
            }
            return "\(error.code): \(underlying)"
        }
        return "\(error.code)"
    }
}

/// A `postgres://` URL taken apart.
struct PostgresURL {
    var host: String
    var port: Int
    var user: String
    var password: String?
    var database: String?
    /// libpq's `sslmode`: disable (default), prefer, require (encrypted, not verified), verify-full.
    var sslMode = "disable"

    /// The URL without its password, for messages.
    var shown: String { "postgres://\(user)@\(host):\(port)/\(database ?? "")" }

    init(_ text: String) throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme ?? ""),
              let host = components.host, !host.isEmpty else {
            throw PostgresStoreError("store.url is not a postgres://user:password@host:port/database URL")
        }
        self.host = host
        port = components.port ?? 5432
        user = components.user?.removingPercentEncoding ?? "postgres"
        password = components.password?.removingPercentEncoding
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? nil : path.removingPercentEncoding
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw PostgresStoreError("store.url has the parameter '\(item.name)'; only sslmode is understood")
            }
            guard let mode = item.value, ["disable", "prefer", "require", "verify-full"].contains(mode) else {
                throw PostgresStoreError("store.url sslmode is '\(item.value ?? "")'; use disable, prefer, require or verify-full")
            }
            sslMode = mode
        }
    }

    /// The client TLS configuration `sslMode` asks for: certificates verified only for verify-full.
    private var tlsConfiguration: TLSConfiguration {
        var client = TLSConfiguration.makeClientConfiguration()
        if sslMode != "verify-full" { client.certificateVerification = .none }
        return client
    }

    /// The TLS setting `sslMode` asks for, for the async client.
    func clientTLS() -> PostgresClient.Configuration.TLS {
        switch sslMode {
        case "disable": .disable
        case "prefer": .prefer(tlsConfiguration)
        default: .require(tlsConfiguration)
        }
    }

    /// The TLS setting `sslMode` asks for, for the synchronous side's connections.
    func tls() throws -> PostgresConnection.Configuration.TLS {
        let client = tlsConfiguration
        switch sslMode {
        case "disable": return .disable
        case "prefer": return .prefer(try NIOSSLContext(configuration: client))
        default: return .require(try NIOSSLContext(configuration: client))
        }
    }
}

/// postgres-nio's client, running in a service group of its own.
private struct AsyncClient: Sendable {
    let client: PostgresClient
    let running: Task<Void, Never>

    init(configuration: PostgresClient.Configuration, logger: Logger) {
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let services = ServiceGroup(services: [client], gracefulShutdownSignals: [], cancellationSignals: [], logger: logger)
        running = Task { try? await services.run() }
    }
}

/// The async client's connections in use by this process, and when one was last taken or given
/// back: a pool that hands out connections is busy, not stalled.
private final class PoolActivity: Sendable {
    private let state = Mutex<(inUse: Int, last: ContinuousClock.Instant)>((0, .now))

    func began() { state.withLock { $0 = ($0.inUse + 1, .now) } }

    func ended() { state.withLock { $0 = ($0.inUse - 1, .now) } }

    /// Whether a lease asked for at `asked` waits on a stalled client: `limit` passed since then
    /// and since the last connection was taken or given back, with none in use.
    func isStalled(since asked: ContinuousClock.Instant, after limit: Duration) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { $0.inUse == 0 && now - $0.last >= limit } && now - asked >= limit
    }
}

/// A count shared by the tasks of a lease.
private final class LeaseCount: Sendable {
    private let count = Mutex(0)

    var value: Int { count.withLock { $0 } }

    func add(_ delta: Int) { count.withLock { $0 += delta } }
}

/// The async client gave no connection while none was in use (see `PostgresPool.connection`).
private struct StalledClient: Error {}
