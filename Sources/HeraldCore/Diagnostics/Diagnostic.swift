/// A place in a file the user edits: a template, herald.yaml or a batch.
///
/// `file` is the path as the user would type it from the workspace root
/// (`templates/order_shipped.yaml`); `line` and `column` count from 1.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Path relative to the workspace root.
    public var file: String
    /// Line, from 1.
    public var line: Int
    /// Column, from 1, counted in Unicode scalars as the YAML parser counts them.
    public var column: Int

    /// Creates a location.
    public init(file: String, line: Int = 1, column: Int = 1) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `file:line:col`, the form editors and CI annotations understand.
    public var description: String { "\(file):\(line):\(column)" }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// One problem found in configuration or templates, printed as
/// `templates/x.yaml:3:5: error: unknown key 'tilte' in mail variant; did you mean 'title'?`.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    /// How bad a problem is: errors stop a run, warnings do not.
    public enum Severity: String, Sendable, Hashable {
        case error
        case warning
    }

    /// Error or warning.
    public var severity: Severity
    /// Where the problem is.
    public var location: SourceLocation
    /// What is wrong, written as guidance.
    public var message: String

    /// Creates a diagnostic.
    public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    /// An error at `location`.
    public static func error(_ message: String, at location: SourceLocation) -> Diagnostic {
        Diagnostic(.error, at: location, message)
    }

    /// A warning at `location`.
    public static func warning(_ message: String, at location: SourceLocation) -> Diagnostic {
        Diagnostic(.warning, at: location, message)
    }

    /// `path:line:col: error: message`.
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

extension Array where Element == Diagnostic {
    /// True when any element is an error.
    public var hasErrors: Bool { contains { $0.severity == .error } }

    /// Sorted by file, line and column, so output is stable.
    public func sortedByLocation() -> [Diagnostic] {
        sorted { ($0.location, $0.message) < ($1.location, $1.message) }
    }
}

/// Thrown when configuration or templates cannot be used; carries every diagnostic found.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    /// The problems, errors first in file order.
    public var diagnostics: [Diagnostic]

    /// Creates the error from the problems found.
    public init(_ diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics.sortedByLocation()
    }

    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// A value from a row or a file, as an error message quotes it: whole when short, else its start
/// and its length, so one huge cell cannot make one huge log line.
public enum Echo {
    /// The longest value quoted whole.
    public static let limit = 64

    /// `'value'`, or `'start…' (N characters)` when longer than `limit`.
    public static func quoted(_ value: String) -> String {
        guard value.count > limit else { return "'\(value)'" }
        return "'\(value.prefix(limit))…' (\(value.count) characters)"
    }
}
