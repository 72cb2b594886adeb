import Foundation

/// One delivery report from an SMS provider, in a provider-neutral shape.
public struct DeliveryReceipt: Sendable, Hashable, Codable {
    /// The SMS channel id the receipt belongs to (`aliyun`, `tencent`).
    public var channel: String
    /// Herald's message id when the provider echoes it (Aliyun `out_id`).
    public var messageID: String?
    /// The provider's serial (Aliyun `biz_id`, Tencent `sid`).
    public var serial: String?
    /// The mobile the provider reports (as it writes it).
    public var mobile: String
    /// Whether it arrived (in `ReceiptReport`: how many receipts said delivered).
    public var delivered: Bool
    /// The provider's status code (`DELIVERED`, `MK:0001`).
    public var code: String
    /// The provider's words.
    public var message: String
    /// When the provider says the handset reported, as it writes it.
    public var reportedAt: String?

    /// Creates a receipt.
    public init(channel: String, messageID: String?, serial: String?, mobile: String, delivered: Bool, code: String, message: String,
                reportedAt: String?) {
        self.channel = channel
        self.messageID = messageID
        self.serial = serial
        self.mobile = mobile
        self.delivered = delivered
        self.code = code
        self.message = message
        self.reportedAt = reportedAt
    }
}

/// Reads one provider's delivery-receipt pushes. Each provider's parser lives with the provider
/// (HeraldChannels: `AliyunReceipts`, `TencentReceipts`); Core only files and ingests receipts.
///
/// ```swift
/// let receipts = try parser.parse(body, channel: "aliyun")   // [DeliveryReceipt]
/// ```
public protocol ReceiptParser: Sendable {
    /// The format's name, as `herald receipts ingest --format` takes it (`aliyun`, `tencent`).
    var name: String { get }
    /// The body the provider expects back when it pushes receipts (anything else makes it push again).
    var acknowledgement: String { get }
    /// Reads a receipt body for SMS channel `channel`; a body that is not this format is a `BatchRejection`.
    func parse(_ data: Data, channel: String) throws -> [DeliveryReceipt]
}

/// What an ingestion did.
public struct ReceiptReport: Sendable, Hashable {
    /// Whether it arrived (in `ReceiptReport`: how many receipts said delivered).
    public var delivered = 0
    /// How many receipts said not delivered.
    public var undelivered = 0
    /// Receipts for messages whose final receipt was already recorded (providers re-push).
    public var duplicates = 0
    /// Receipts that match no message in the ledger; kept, never dropped.
    public var unmatched: [DeliveryReceipt] = []

    /// Adds another report's counts.
    public mutating func merge(_ other: ReceiptReport) {
        delivered += other.delivered
        undelivered += other.undelivered
        duplicates += other.duplicates
        unmatched += other.unmatched
    }
}

/// Applies receipts to the ledger and the log: each matched message becomes `delivered` or
/// `undelivered` (once; a repeated receipt is a duplicate), matched by Herald's id (`out_id`)
/// or by the provider's serial as recorded at send time (`channel:serial`).
public struct ReceiptIngest: Sendable {
    /// The ledger whose messages receipts update.
    public var ledger: any Ledger
    /// The log that gets a line per receipt.
    public var log: any EventLog
    /// The time written on receipt lines.
    public var clock: @Sendable () -> Date

    /// Creates an ingester.
    public init(ledger: any Ledger, log: any EventLog, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.ledger = ledger
        self.log = log
        self.clock = clock
    }

    /// Applies `receipts`.
    public func apply(_ receipts: [DeliveryReceipt]) async throws -> ReceiptReport {
        let ids = receipts.compactMap(\.messageID).map(MessageID.init)
        let serials = receipts.compactMap { receipt in receipt.serial.map { "\(receipt.channel):\($0)" } }
        let known = try await ledger.entries(ids: ids, providerIDs: serials)
        let byID = Dictionary(known.map { ($0.id.value, $0) }, uniquingKeysWith: { first, _ in first })
        let bySerial = Dictionary(known.compactMap { entry in entry.providerID.map { ($0, entry) } }, uniquingKeysWith: { first, _ in first })
        var report = ReceiptReport()
        var updated: [String: LedgerEntry] = [:]
        var events: [LogEvent] = []
        let now = clock()
        for receipt in receipts {
            let match = receipt.messageID.flatMap { byID[$0] } ?? receipt.serial.flatMap { bySerial["\(receipt.channel):\($0)"] }
            guard var entry = match.map({ updated[$0.id.value] ?? $0 }) else {
                report.unmatched.append(receipt)
                continue
            }
            if entry.status == .delivered || entry.status == .undelivered {
                report.duplicates += 1
                continue
            }
            entry.status = receipt.delivered ? .delivered : .undelivered
            entry.errorCode = receipt.delivered ? nil : FailureCode(receipt.code)
            entry.errorMessage = receipt.delivered ? nil : receipt.message
            entry.updatedAt = now
            updated[entry.id.value] = entry
            if receipt.delivered { report.delivered += 1 } else { report.undelivered += 1 }
            events.append(LogEvent(timestamp: now, messageID: entry.id, batch: entry.batch, file: "receipts", row: entry.row,
                                   template: entry.template, channel: entry.channel, account: receipt.channel,
                                   recipient: RecipientMasking.masked.apply(receipt.mobile, channel: .sms), status: entry.status,
                                   attempt: entry.attempt, providerID: entry.providerID,
                                   error: receipt.delivered ? nil : PipelineError(stage: .record, file: "receipts", code: FailureCode(receipt.code),
                                                                                 reason: receipt.message.isEmpty ? receipt.code : receipt.message),
                                   extra: receipt.reportedAt.map { ["reported_at": $0] } ?? [:]))
            events[events.count - 1].traceAddress = receipt.mobile
        }
        try log.append(events)
        try log.flush()
        try await ledger.record(Array(updated.values))
        return report
    }
}

/// Receipt files: `recipients/inbox/receipts/<channel>/` (and `herald receipts ingest`). A file read
/// through moves to `recipients/processed/receipts/<channel>/`; receipts that match no message are
/// written to `recipients/unmatched-receipts/<channel>/` and reported.
public struct ReceiptFiles: Sendable {
    /// The workspace folder.
    public let root: URL
    /// herald.yaml: which provider each SMS channel uses.
    public let configuration: Configuration
    /// The parser of each provider transport that pushes receipts.
    public let parsers: [TransportKind: any ReceiptParser]

    /// Receipt files of the workspace at `root`, read with `parsers` (HeraldChannels' `ProviderReceipts.parsers`).
    public init(root: URL, configuration: Configuration, parsers: [TransportKind: any ReceiptParser]) {
        self.root = root
        self.configuration = configuration
        self.parsers = parsers
    }

    /// The parser of a channel's receipts: its provider's.
    public func format(channel: String) throws -> any ReceiptParser {
        guard let sms = configuration.smsChannels[channel] else {
            throw BatchRejection(reason: "no sms channel '\(channel)' in herald.yaml")
        }
        guard let parser = parsers[sms.transport] else {
            let known = parsers.values.map(\.name).sorted().joined(separator: " and ")
            throw BatchRejection(reason: "sms channel '\(channel)' uses transport \(sms.transport.rawValue); receipts are read for \(known) channels")
        }
        return parser
    }

    /// Checks a pushed receipt body for `channel` and stores it durably (tmp → fsync → rename) in
    /// `recipients/inbox/receipts/<channel>/`, where the next run ingests it. Returns the file
    /// and how many receipts it holds; a body that does not parse is refused and nothing is written.
    public func accept(_ body: Data, channel: String, now: Date = Date()) throws -> (file: URL, receipts: Int) {
        let receipts = try format(channel: channel).parse(body, channel: channel)
        let folder = WorkspacePaths(root: root).receiptsWaiting(channel)
        let name = "\(Int(now.timeIntervalSince1970 * 1000))-\(UUID().uuidString.lowercased().prefix(8)).json"
        let file = folder.appendingPathComponent(name)
        try DurableFile.write(body, to: file)
        return (file, receipts.count)
    }

    /// Ingests one push of `channel` (a file's bytes, or a row `herald serve` kept); receipts that
    /// match no message are kept in `receipts/unmatched/<channel>/`, named after `name`.
    public func ingest(_ body: Data, channel: String, with ingest: ReceiptIngest, format: (any ReceiptParser)? = nil,
                       name: String = "queued.json") async throws -> ReceiptReport {
        let receipts = try (format ?? self.format(channel: channel)).parse(body, channel: channel)
        let report = try await ingest.apply(receipts)
        if !report.unmatched.isEmpty {
            let folder = WorkspacePaths(root: root).receiptsUnmatched(channel)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let file = "\(Int(Date().timeIntervalSince1970 * 1000))-\(UUID().uuidString.lowercased().prefix(8))-\(name)"
            try encoder.encode(report.unmatched).write(to: folder.appendingPathComponent(file), options: .atomic)
        }
        return report
    }

    /// Ingests one file for `channel`; moves it to processed/ when `move` is true.
    public func ingest(_ url: URL, channel: String, with ingest: ReceiptIngest, format: (any ReceiptParser)? = nil, move: Bool) async throws -> ReceiptReport {
        let report = try await self.ingest(Data(contentsOf: url), channel: channel, with: ingest, format: format, name: url.lastPathComponent)
        if move { _ = try DropFolder.move(url, into: WorkspacePaths(root: root).receiptsProcessed(channel)) }
        return report
    }

    /// Settled receipt files waiting in `recipients/inbox/receipts/<channel>/`, by channel.
    public func waiting(settle: Duration, now: Date) -> [(channel: String, url: URL)] {
        let base = WorkspacePaths(root: root).receiptsWaiting()
        guard let channels = try? FileManager.default.contentsOfDirectory(atPath: base.path) else { return [] }
        var found: [(String, URL)] = []
        for channel in channels.sorted() {
            let ready = (try? DropFolder.scan(base.appendingPathComponent(channel), settle: settle, now: now).ready) ?? []
            found += ready.map { (channel, $0) }
        }
        return found
    }
}

/// Receipt pushes that `herald serve` received and a worker has not ingested yet, kept as rows
/// (PostgreSQL) instead of files in `recipients/inbox/receipts/`, so any replica can take them
/// and any worker can ingest them.
public protocol ReceiptQueue: Sendable {
    /// Keeps one push of `channel` durably.
    func put(channel: String, body: Data, at: Date) async throws
    /// Hands at most `limit` waiting pushes, oldest first, each to one worker, to `handle`; a push
    /// is removed when `handle` returns for it (together, in one transaction).
    func take(limit: Int, _ handle: (_ channel: String, _ body: Data) async throws -> Void) async throws -> Int
}
