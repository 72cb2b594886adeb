import Testing

extension Tag {
    /// Runs the built `herald` binary (or a server it starts): slower, and needs the build's products.
    @Tag public static var endToEnd: Self
}

/// Which implementation a contract test runs against: the SQLite store, its in-memory twin, and
/// PostgreSQL when `HERALD_TEST_DATABASE_URL` names a server (`.ci/test` starts one).
public enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, memory, postgres

    /// The kinds this machine can run: PostgreSQL only with a test server.
    public static var allCases: [StoreKind] {
        PostgresTestDatabase.url == nil ? [.sqlite, .memory] : [.sqlite, .memory, .postgres]
    }

    public var testDescription: String { rawValue }
}
