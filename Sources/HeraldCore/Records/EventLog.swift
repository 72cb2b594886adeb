import Foundation

/// Where log events go.
///
/// ```swift
/// let log = MemoryEventLog()
/// try log.append([event]); log.events   // [event]
/// ```
public protocol EventLog: Sendable {
    /// Appends events in order.
    func append(_ events: [LogEvent]) throws
    /// Makes everything appended so far durable.
    func flush() throws
}

/// The in-memory twin of `JSONLinesLog`.
public final class MemoryEventLog: EventLog, @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [LogEvent] = []

    /// Creates an empty log.
    public init() {}

    /// Everything appended.
    public var events: [LogEvent] { lock.withLock { stored } }

    public func append(_ events: [LogEvent]) throws {
        lock.withLock { stored += events }
    }

    public func flush() throws {}
}
