import Testing

extension Tag {
    /// Runs the built `herald` binary (or a server it starts): slower, and needs the build's products.
    @Tag public static var endToEnd: Self
}

/// Which implementation a contract test runs against: the SQLite store or its in-memory twin.
public enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, memory

    public var testDescription: String { rawValue }
}
