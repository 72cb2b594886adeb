import Foundation
import Synchronization

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
public final class MemoryEventLog: EventLog, Sendable {
    private let stored = Mutex<[LogEvent]>([])

    /// Creates an empty log.
    public init() {}

    /// Everything appended.
    public var events: [LogEvent] { stored.withLock { $0 } }

    public func append(_ events: [LogEvent]) throws {
        stored.withLock { $0 += events }
    }

    public func flush() throws {}
}
