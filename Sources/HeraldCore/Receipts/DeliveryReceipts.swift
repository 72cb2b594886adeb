import Foundation

/// One delivery report from an SMS provider, in a provider-neutral shape.
public struct DeliveryReceipt: Sendable, Hashable, Codable {
    /// The SMS channel id the receipt belongs to (`aliyun`, `tencent`).
    public var channel: String
    /// Herald's message id when the provider echoes it (Aliyun `out_id`).
    public var messageID: String?
    /// The provider's serial (Aliyun `biz_id`, Tencent `sid`).
    public var serial: String?
    public var mobile: String
    public var delivered: Bool
    public var code: String
    public var message: String
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

/// Parsers for the receipt pushes the providers document.
public enum ReceiptFormat: String, Sendable, CaseIterable {
    /// Aliyun SmsReport: `[{"phone_number", "send_time", "report_time", "success", "err_code", "err_msg", "sms_size", "biz_id", "out_id"}]`.
    case aliyun
    /// Tencent Cloud status callback: `[{"user_receive_time", "nationcode", "mobile", "report_status", "errmsg", "description", "sid"}]`.
    case tencent

    /// The body the provider expects back when it pushes receipts (anything else makes it push again).
    public var acknowledgement: String {
        switch self {
        case .aliyun: #"{"code":0,"msg":"接收成功"}"#
        case .tencent: #"{"result":0,"errmsg":"OK"}"#
        }
    }

    /// Reads a receipt file for SMS channel `channel`.
    public func parse(_ data: Data, channel: String) throws -> [DeliveryReceipt] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw BatchRejection(reason: "not valid JSON: \(error.localizedDescription)")
        }
        let items = (object as? [Any]) ?? [object]
        return try items.enumerated().map { index, item in
            guard let fields = item as? [String: Any] else {
                throw BatchRejection(reason: "receipt \(index + 1) is not a JSON object")
            }
            func text(_ key: String) -> String? {
                if let string = fields[key] as? String { return string }
                return (fields[key] as? NSNumber)?.stringValue
            }
            switch self {
            case .aliyun:
                guard let success = fields["success"] as? Bool else {
                    throw BatchRejection(reason: "Aliyun receipt \(index + 1) has no boolean \"success\"")
                }
                return DeliveryReceipt(channel: channel, messageID: text("out_id").flatMap { $0.isEmpty ? nil : $0 },
                                       serial: text("biz_id"), mobile: text("phone_number") ?? "", delivered: success,
                                       code: text("err_code") ?? (success ? "DELIVERED" : "UNKNOWN"), message: text("err_msg") ?? "",
                                       reportedAt: text("report_time"))
            case .tencent:
                guard let status = text("report_status") else {
                    throw BatchRejection(reason: "Tencent receipt \(index + 1) has no \"report_status\"")
                }
                let nation = text("nationcode") ?? "86"
                return DeliveryReceipt(channel: channel, messageID: nil, serial: text("sid"),
                                       mobile: "+\(nation)\(text("mobile") ?? "")", delivered: status == "SUCCESS",
                                       code: text("errmsg") ?? status, message: text("description") ?? "",
                                       reportedAt: text("user_receive_time"))
            }
        }
    }
}

/// What an ingestion did.
public struct ReceiptReport: Sendable, Hashable {
    public var delivered = 0
    public var undelivered = 0
    /// Receipts for messages whose final receipt was already recorded (providers re-push).
    public var duplicates = 0
    /// Receipts that match no message in the ledger; kept, never dropped.
    public var unmatched: [DeliveryReceipt] = []
}

/// Applies receipts to the ledger and the log: each matched message becomes `delivered` or
/// `undelivered` (once; a repeated receipt is a duplicate), matched by Herald's id (`out_id`)
/// or by the provider's serial as recorded at send time (`channel:serial`).
public struct ReceiptIngest: Sendable {
    public var ledger: any Ledger
    public var log: any EventLog
    public var clock: @Sendable () -> Date

    /// Creates an ingester.
    public init(ledger: any Ledger, log: any EventLog, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.ledger = ledger
        self.log = log
        self.clock = clock
    }

    /// Applies `receipts`.
    public func apply(_ receipts: [DeliveryReceipt]) throws -> ReceiptReport {
        let ids = receipts.compactMap(\.messageID).map(MessageID.init)
        let serials = receipts.compactMap { receipt in receipt.serial.map { "\(receipt.channel):\($0)" } }
        let known = try ledger.entries(ids: ids, providerIDs: serials)
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
            entry.errorCode = receipt.delivered ? nil : receipt.code
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
        }
        try log.append(events)
        try log.flush()
        try ledger.record(Array(updated.values))
        return report
    }
}

/// Receipt files: `recipients/inbox/receipts/<channel>/` (and `herald receipts ingest`). A file read
/// through moves to `recipients/processed/receipts/<channel>/`; receipts that match no message are
/// written to `recipients/unmatched-receipts/<channel>/` and reported.
public struct ReceiptFiles: Sendable {
    public let root: URL
    public let configuration: Configuration

    /// Receipt files of the workspace at `root`.
    public init(root: URL, configuration: Configuration) {
        self.root = root
        self.configuration = configuration
    }

    /// The format of a channel's receipts: its provider's.
    public func format(channel: String) throws -> ReceiptFormat {
        guard let sms = configuration.smsChannels[channel] else {
            throw BatchRejection(reason: "no sms channel '\(channel)' in herald.yaml")
        }
        guard let format = ReceiptFormat(rawValue: sms.transport.rawValue) else {
            throw BatchRejection(reason: "sms channel '\(channel)' uses transport \(sms.transport.rawValue); receipts are read for aliyun and tencent channels")
        }
        return format
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

    /// Ingests one file for `channel`; moves it to processed/ when `move` is true.
    public func ingest(_ url: URL, channel: String, with ingest: ReceiptIngest, format: ReceiptFormat? = nil, move: Bool) throws -> ReceiptReport {
        let receipts = try (format ?? self.format(channel: channel)).parse(Data(contentsOf: url), channel: channel)
        let report = try ingest.apply(receipts)
        if !report.unmatched.isEmpty {
            let folder = WorkspacePaths(root: root).receiptsUnmatched(channel)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let name = "\(Int(Date().timeIntervalSince1970 * 1000))-\(url.lastPathComponent)"
            try encoder.encode(report.unmatched).write(to: folder.appendingPathComponent(name), options: .atomic)
        }
        if move {
            let folder = WorkspacePaths(root: root).receiptsProcessed(channel)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            var destination = folder.appendingPathComponent(url.lastPathComponent)
            var counter = 1
            while FileManager.default.fileExists(atPath: destination.path) {
                destination = folder.appendingPathComponent("\(counter).\(url.lastPathComponent)")
                counter += 1
            }
            guard rename(url.path, destination.path) == 0 else {
                throw BatchRejection(reason: "could not move \(url.lastPathComponent): \(String(cString: strerror(errno)))")
            }
        }
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
