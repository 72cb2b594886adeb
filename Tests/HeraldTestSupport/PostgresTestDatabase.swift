import Foundation
import HeraldPostgres

/// The PostgreSQL server of the tests: `HERALD_TEST_DATABASE_URL` (`.ci/test` starts a throwaway
/// cluster and sets it). Every test gets a schema of its own, so tests run in parallel and
/// never see each other's rows.
public enum PostgresTestDatabase {
    /// The server's URL, or nil when none is given (PostgreSQL tests are then left out).
    public static var url: String? {
        ProcessInfo.processInfo.environment["HERALD_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether this run must include the PostgreSQL suites: `.ci/test` sets
    /// `HERALD_TEST_REQUIRE_POSTGRESQL=1` beside the server it starts (CI or not), and CI sets `CI=true`.
    /// A bare `swift test` without a server runs the embedded suites only.
    public static var isRequired: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["CI"] == "true" || environment["HERALD_TEST_REQUIRE_POSTGRESQL"] == "1"
    }

    /// A new, empty schema.
    public static func freshSchema() throws -> String {
        guard let url else { throw MissingServer() }
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
        let admin = try PostgresPool(url: url, size: 1)
        defer { admin.close() }
        try admin.withSession { try $0.execute("CREATE SCHEMA \(schema)") }
        return String(schema)
    }

    /// A pool over a new, empty schema.
    public static func pool(size: Int = 4) throws -> PostgresPool {
        guard let url else { throw MissingServer() }
        return try PostgresPool(url: url, size: size, schema: freshSchema())
    }

    /// No server was given.
    public struct MissingServer: Error, CustomStringConvertible {
        public var description: String { "HERALD_TEST_DATABASE_URL is not set; .ci/test starts a PostgreSQL server and sets it" }
    }
}
