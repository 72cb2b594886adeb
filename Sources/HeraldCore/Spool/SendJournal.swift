import Foundation
import Synchronization

/// `outbox/journal/`: the write-ahead half of the ledger. Before a slice of messages is handed
/// to a transport, one line per message records it as in flight (`F`); as each transport
/// outcome arrives — in the transport's own worker, before the next message on that
/// connection — an `S` line records a send. A segment is deleted once its chunk is in the
/// ledger. After a crash, `recover` puts every journaled send into the ledger and the log, so
/// only the messages in hand when the process died (at most the transport's concurrency) can
/// be sent twice.
///
/// With `progress` (PostgreSQL mode), each send also goes to the store every worker sees before
/// the connection starts the message after next, so a worker whose machine is lost with its
/// journal still costs no more than two messages per connection.
public final class SendJournal: Sendable {
    /// outbox/journal/
    public let folder: URL
    /// Where sends are recorded for other workers too, or nil (embedded mode).
    public let progress: SendProgress?
    private let sequence = Mutex(0)

    /// The journal of the workspace at `root`, recording sends in `progress` too when given.
    public init(root: URL, progress: SendProgress? = nil) {
        folder = WorkspacePaths(root: root).journal
        self.progress = progress
    }

    /// Why sends cannot be recorded for other workers now (the send stage starts no more), or nil.
    public var progressFailure: String? { progress?.failure }

    /// Opens a new segment for one chunk.
    func segment() throws -> JournalSegment {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let number = sequence.withLock { sequence -> Int in
            sequence += 1
            return sequence
        }
        let url = folder.appendingPathComponent("\(getpid())-\(Int(Date().timeIntervalSince1970 * 1000))-\(number).log")
        return try JournalSegment(url: url, progress: progress, killSwitch: KillSwitch.process)
    }

    /// What a journaled send says.
    public struct Send: Sendable, Hashable {
        /// The message id.
        public var id: MessageID
        /// The batch id.
        public var batch: String
        /// The batch file name.
        public var file: String
        /// The recipient row of the batch (1 = first).
        public var row: Int
        /// The channel.
        public var channel: Channel
        /// The account, SMS channel or app id that sends it.
        public var account: String
        /// The template code.
        public var template: String
        /// The template's category.
        public var category: TemplateCategory
        /// The transport that sent it.
        public var transport: String
        /// The provider's id for it.
        public var providerID: String?

        /// Its `sent` log line, written on recovery at `date` (`extra` says where it was recovered from).
        func logEvent(at date: Date, extra: [String: String]) -> LogEvent {
            LogEvent(timestamp: date, messageID: id, batch: batch, file: file, row: row, template: template, category: category,
                     channel: channel, account: account, transport: transport, status: .sent, providerID: providerID, extra: extra)
        }

        /// Its `sent` ledger entry, recorded at `date` (by `worker`, when another worker sent it).
        func ledgerEntry(at date: Date, worker: String? = nil) -> LedgerEntry {
            var entry = LedgerEntry(id: id, batch: batch, row: row, channel: channel, template: template, status: .sent,
                                    providerID: providerID, updatedAt: date, file: file)
            entry.worker = worker
            return entry
        }

        /// Creates a send.
        public init(id: MessageID, batch: String, file: String, row: Int, channel: Channel, account: String, template: String,
                    category: TemplateCategory, transport: String, providerID: String?) {
            self.id = id
            self.batch = batch
            self.file = file
            self.row = row
            self.channel = channel
            self.account = account
            self.template = template
            self.category = category
            self.transport = transport
            self.providerID = providerID
        }
    }

    /// Reads every segment left by runs that did not finish: the sends, and the ids that were in
    /// flight without an outcome.
    public func pending() throws -> (segments: [URL], sends: [Send], inFlight: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return ([], [], []) }
        var sends: [Send] = []
        var inFlight = Set<String>()
        var segments: [URL] = []
        for name in names.sorted() where name.hasSuffix(".log") {
            let url = folder.appendingPathComponent(name)
            segments.append(url)
            let text = String(decoding: (try? Data(contentsOf: url)) ?? Data(), as: UTF8.self)
            for line in text.split(separator: "\n") {
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                switch fields.first {
                case "F" where fields.count >= 2:
                    inFlight.insert(fields[1])
                case "S" where fields.count >= 11:
                    guard let channel = Channel(rawValue: fields[5]), let row = Int(fields[4]),
                          let category = TemplateCategory(rawValue: fields[8]) else { continue }
                    inFlight.remove(fields[1])
                    sends.append(Send(id: MessageID(fields[1]), batch: fields[2], file: fields[3], row: row, channel: channel,
                                      account: fields[6], template: fields[7], category: category, transport: fields[9],
                                      providerID: fields[10].isEmpty ? nil : fields[10]))
                default:
                    continue // a line cut short by the crash
                }
            }
        }
        return (segments, sends, inFlight)
    }
}

/// One chunk's journal file, appended with single write(2) calls (kept by the kernel even if
/// the process is killed right after).
final class JournalSegment: Sendable {
    let url: URL
    private let descriptor: Int32
    private let lock = NSLock()
    private let progress: SendProgress?
    private let killSwitch: KillSwitch?

    init(url: URL, progress: SendProgress? = nil, killSwitch: KillSwitch? = nil) throws {
        self.url = url
        self.progress = progress
        self.killSwitch = killSwitch
        descriptor = open(url.path, O_CREAT | O_WRONLY | O_APPEND, 0o644)
        guard descriptor >= 0 else {
            throw SpoolCorruption(file: url.lastPathComponent, reason: String(cString: strerror(errno)))
        }
    }

    deinit {
        close(descriptor)
    }

    func inFlight(_ ids: [MessageID]) {
        write(ids.map { "F\t\($0.value)\n" }.joined())
    }

    func sent(_ envelope: Envelope, transport: String, providerID: String?) {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.append(UInt8(ascii: "S"))
        for field in [envelope.id.value, envelope.batch.id, envelope.batch.file, String(envelope.row), envelope.channel.rawValue,
                      envelope.account, envelope.message.template, envelope.message.category.rawValue, transport, providerID ?? ""] {
            line.append(0x09)
            // A tab or newline inside a field would break the line: it becomes a space.
            for byte in field.utf8 { line.append(byte == 0x09 || byte == 0x0A ? 0x20 : byte) }
        }
        line.append(0x0A)
        write(line)
        progress?.sent(SendJournal.Send(id: envelope.id, batch: envelope.batch.id, file: envelope.batch.file, row: envelope.row,
                                        channel: envelope.channel, account: envelope.account, template: envelope.message.template,
                                        category: envelope.message.category, transport: transport, providerID: providerID))
        killSwitch?.count()
    }

    private func write(_ text: String) {
        write(Array(text.utf8))
    }

    private func write(_ line: [UInt8]) {
        var bytes = line
        guard !bytes.isEmpty else { return }
        lock.withLock {
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { raw -> Int in
                    guard let base = raw.baseAddress else { return 0 }
                    return Glibc.write(descriptor, base + offset, raw.count - offset)
                }
                if written <= 0 { break }
                offset += written
            }
        }
    }

    func remove() {
        unlink(url.path)
    }
}

/// A test hook: `HERALD_TEST_KILL_AFTER_SENDS=N` makes the process kill itself with SIGKILL right
/// after its Nth journaled send (journal line written, shared progress handed in), so crash tests
/// stop a worker at a chosen point instead of by timing.
final class KillSwitch: Sendable {
    private let limit: Int
    private let sends = Mutex(0)

    private init(limit: Int) {
        self.limit = limit
    }

    /// The process's switch (counted across runs and watch cycles), or nil when the variable is not set.
    static let process = fromEnvironment()

    private static func fromEnvironment() -> KillSwitch? {
        guard let text = ProcessInfo.processInfo.environment["HERALD_TEST_KILL_AFTER_SENDS"], let limit = Int(text), limit > 0 else {
            return nil
        }
        return KillSwitch(limit: limit)
    }

    func count() {
        let reached = sends.withLock { sends -> Bool in
            sends += 1
            return sends == limit
        }
        if reached { kill(getpid(), SIGKILL) }
    }
}
