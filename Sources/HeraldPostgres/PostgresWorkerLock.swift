import Foundation
import HeraldCore
import Logging
import NIOCore
import PostgresNIO

/// Holds a worker's name (`worker.name`) in the shared store while a `herald watch` or `herald
/// run` process works: a session-level advisory lock on a connection of its own, keyed by the
/// schema and the name. PostgreSQL drops it the moment that connection ends — the process exits
/// or is killed, or its machine stops answering TCP keepalives (about 25 s) — so a restarted
/// worker takes its name, and its leases, back at once, while a second process under a name in
/// use is refused. `herald_workers` says who holds each name, for the refusal's message.
public final class PostgresWorkerLock: WorkerNameHold, Sendable {
    /// The name held.
    public let name: String
    private let connection: PostgresConnection
    /// Kept alive with the lock: its event loop runs the connection, and must outlive the unlock.
    private let pool: PostgresPool

    private init(name: String, connection: PostgresConnection, pool: PostgresPool) {
        self.name = name
        self.connection = connection
        self.pool = pool
    }

    /// Whether the name is still this process's: false once its connection ended (the database
    /// restarted, the network dropped it), when another process may have taken the name.
    public var isHeld: Bool { !connection.isClosed }

    deinit {
        // Unlocked before the connection closes, so the name is free when this returns (a session
        // that just ends lets go of it a moment later). Never waited on for long: a connection
        // that died half-way must not hold up the exit.
        if !connection.isClosed {
            let unlocked = connection.query("SELECT pg_advisory_unlock_all()", logger: Logger(label: "herald.postgres"))
            Self.wait(for: unlocked.map { _ in () }, upTo: 2)
        }
        Self.wait(for: connection.close(), upTo: 2)
    }

    /// Waits for `future` at most `seconds`.
    private static func wait(for future: EventLoopFuture<Void>, upTo seconds: Double) {
        let done = DispatchSemaphore(value: 0)
        future.whenComplete { _ in done.signal() }
        _ = done.wait(timeout: .now() + seconds)
    }

    /// Takes `name` in `pool`'s schema, trying again for up to `patience` (a killed predecessor's
    /// session may take a moment to end). Throws `WorkerNameTaken` when another process keeps it.
    public static func take(_ name: String, in pool: PostgresPool, patience: Duration = .seconds(5)) throws -> PostgresWorkerLock {
        try pool.migrate(migrations)
        let connection = try pool.dedicatedConnection()
        let session = PostgresSession(connection: connection)
        do {
            // A machine that vanishes without closing its connection is noticed in seconds, not hours.
            try session.execute("SET tcp_keepalives_idle = 10")
            try session.execute("SET tcp_keepalives_interval = 5")
            try session.execute("SET tcp_keepalives_count = 3")
            let deadline = ContinuousClock.now + patience
            while true {
                let taken = try session.query("SELECT pg_try_advisory_lock(hashtext('herald worker'), hashtext($1))",
                                              [key(name, pool)]).first?.decode(Bool.self) ?? false
                if taken { break }
                guard ContinuousClock.now < deadline else {
                    throw WorkerNameTaken(name: name, holder: try holder(in: session, name: name, key: key(name, pool)))
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            try session.execute("""
                INSERT INTO herald_workers (name, host, pid, started_at, backend_pid) VALUES ($1, $2, $3, now(), pg_backend_pid())
                ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = excluded.started_at,
                                                 backend_pid = excluded.backend_pid
                """, [name, ProcessInfo.processInfo.hostName, Int(getpid())])
        } catch {
            _ = try? connection.close().wait()
            throw error
        }
        return PostgresWorkerLock(name: name, connection: connection, pool: pool)
    }

    /// Who holds `name` now (host, pid, since), or nil when no running process does.
    public static func holder(of name: String, in pool: PostgresPool) throws -> String? {
        try pool.migrate(migrations)
        return try pool.withSession { session in
            let free = try session.query("SELECT pg_try_advisory_lock(hashtext('herald worker'), hashtext($1))",
                                         [key(name, pool)]).first?.decode(Bool.self) ?? false
            if free {
                try session.execute("SELECT pg_advisory_unlock(hashtext('herald worker'), hashtext($1))", [key(name, pool)])
                return nil
            }
            return try holder(in: session, name: name, key: key(name, pool))
        }
    }

    /// The holder's host and pid from its row, once the row is the lock holder's own: the lock is
    /// taken a moment before the row is written, so a row of another session (a predecessor's) or
    /// none is asked again for up to two seconds before the answer is only "another process".
    private static func holder(in session: PostgresSession, name: String, key: String) throws -> String {
        for attempt in 0..<20 {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.1) }
            guard let row = try session.query("""
                SELECT host, pid, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM herald_workers
                WHERE name = $1 AND backend_pid IN (
                    SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2
                      AND classid = hashtext('herald worker')::oid AND objid = hashtext($2)::oid)
                """, [name, key]).first else { continue }
            let (host, pid, since) = try row.decode((String, Int, String).self)
            return "pid \(pid) on \(host), running since \(since)"
        }
        return "another process"
    }

    private static func key(_ name: String, _ pool: PostgresPool) -> String {
        "\(pool.schema)/\(name)"
    }

    static let migrations: [(identifier: String, sql: String)] = [
        ("workers-1", """
            CREATE TABLE herald_workers (
                name TEXT PRIMARY KEY,
                host TEXT NOT NULL,
                pid INTEGER NOT NULL,
                started_at TIMESTAMPTZ NOT NULL
            )
            """),
        // The holding session, so a reader can tell the row of the lock's holder from a
        // predecessor's row (the lock is taken a moment before the row is written).
        ("workers-2", "ALTER TABLE herald_workers ADD COLUMN backend_pid INTEGER"),
    ]
}

/// Another running process holds this worker name.
public struct WorkerNameTaken: Error, Sendable, CustomStringConvertible {
    /// The name.
    public var name: String
    /// Who holds it.
    public var holder: String

    public var description: String {
        "worker.name '\(name)' is in use by a running herald (\(holder)); two workers under one name would take each "
            + "other's chunks back: give each worker its own worker.name in herald.yaml"
    }
}
