import Foundation
import Synchronization

/// `outbox/log/YYYY-MM-DD.jsonl`: appended, never rewritten; the day is the event's day in the
/// configured time zone. Each `append` reaches the file with one write; `flush` also fsyncs.
public final class JSONLinesLog: EventLog, Sendable {
    /// The open day files and the lines not yet handed to them, with their index records.
    private struct Files {
        let directory: URL
        var handles: [String: FileHandle] = [:]
        var pending: [String: [UInt8]] = [:]
        var pendingRecords: [String: [TraceRecord]] = [:]

        mutating func writePending(index: TraceIndexWriter?) throws {
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

        mutating func handle(for day: String) throws -> FileHandle {
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

    private let timeZone: TimeZone
    private let files: Mutex<Files>
    private let index: TraceIndexWriter?
    /// The worker named on every line (set when workers share a PostgreSQL store), or nil.
    public let worker: String?

    /// Creates a log writing under `directory`; every line names `worker` when given.
    public init(directory: URL, timeZone: TimeZone, worker: String? = nil) throws {
        self.timeZone = timeZone
        self.worker = worker
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        files = Mutex(Files(directory: directory))
        // The log never fails for its index: without one, `herald trace` indexes the lines itself.
        index = try? TraceIndexWriter(logDirectory: directory)
    }

    deinit {
        try? flush()
        files.withLock { files in for handle in files.handles.values { try? handle.close() } }
    }

    public func append(_ events: [LogEvent]) throws {
        let index = index
        try files.withLock { files in
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
                    files.pendingRecords[day, default: []].append(index.record(event, offset: UInt64(files.pending[day]?.count ?? 0)))
                }
                files.pending[day, default: []] += json.finish()
                files.pending[day]?.append(0x0A)
            }
            // Hand the lines to the kernel now, before the ledger records the chunk: a killed
            // process then never leaves a ledger entry without its log line.
            try files.writePending(index: index)
        }
    }

    public func flush() throws {
        let index = index
        try files.withLock { files in
            try files.writePending(index: index)
            for handle in files.handles.values { try handle.synchronize() }
        }
    }
}
