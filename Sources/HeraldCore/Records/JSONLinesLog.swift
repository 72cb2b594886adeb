import Foundation

/// `outbox/log/YYYY-MM-DD.jsonl`: appended, never rewritten; the day is the event's day in the
/// configured time zone. Each `append` reaches the file with one write; `flush` also fsyncs.
public final class JSONLinesLog: EventLog, @unchecked Sendable {
    private let directory: URL
    private let timeZone: TimeZone
    private let lock = NSLock()
    private var handles: [String: FileHandle] = [:]
    private var pending: [String: [UInt8]] = [:]
    private var pendingRecords: [String: [TraceRecord]] = [:]
    private let index: TraceIndexWriter?
    /// The worker named on every line (set when workers share a PostgreSQL store), or nil.
    public let worker: String?

    /// Creates a log writing under `directory`; every line names `worker` when given.
    public init(directory: URL, timeZone: TimeZone, worker: String? = nil) throws {
        self.directory = directory
        self.timeZone = timeZone
        self.worker = worker
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        // The log never fails for its index: without one, `herald trace` indexes the lines itself.
        index = try? TraceIndexWriter(logDirectory: directory)
    }

    deinit {
        try? flush()
        for handle in handles.values { try? handle.close() }
    }

    public func append(_ events: [LogEvent]) throws {
        try lock.withLock {
            var lastDate: Date?
            var stamp = ""
            var day = ""
            for event in events {
                if event.timestamp != lastDate {
                    lastDate = event.timestamp
                    stamp = Timestamp.iso8601(event.timestamp, timeZone: timeZone)
                    day = Timestamp.day(event.timestamp, timeZone: timeZone)
                }
                var json = JSONObjectWriter()
                event.write(to: &json, timestamp: stamp, zone: timeZone, worker: worker)
                if let index {
                    // The offset within what is pending; writePending adds where the file ends.
                    pendingRecords[day, default: []].append(index.record(event, offset: UInt64(pending[day]?.count ?? 0)))
                }
                pending[day, default: []] += json.finish()
                pending[day]?.append(0x0A)
            }
            // Hand the lines to the kernel now, before the ledger records the chunk: a killed
            // process then never leaves a ledger entry without its log line.
            try writePending()
        }
    }

    public func flush() throws {
        try lock.withLock {
            try writePending()
            for handle in handles.values { try handle.synchronize() }
        }
    }

    private func writePending() throws {
        for (day, bytes) in pending where !bytes.isEmpty {
            let handle = try handle(for: day)
            try handle.write(contentsOf: bytes)
            // Appended as one write: it ends where the file offset now is.
            let start = try handle.offset() - UInt64(bytes.count)
            if let index, var records = pendingRecords[day] {
                for i in records.indices { records[i].offset += start }
                // The index trails its lines: a crash in between leaves lines `herald trace` indexes later.
                try? index.append(records, day: day)
            }
        }
        pending.removeAll(keepingCapacity: true)
        pendingRecords.removeAll(keepingCapacity: true)
    }

    private func handle(for day: String) throws -> FileHandle {
        if let handle = handles[day] { return handle }
        let url = directory.appendingPathComponent("\(day).jsonl")
        // O_APPEND: another process appending to the same day (`herald bounces ingest` beside a
        // running `herald watch`) never has its lines overwritten.
        let fd = open(url.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path,
                                                           NSLocalizedDescriptionKey: String(cString: strerror(errno))])
        }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        handles[day] = handle
        return handle
    }
}
