import Foundation

/// One line of `outbox/log/YYYY-MM-DD.jsonl`: something that happened to one message, or (for
/// `kind == .batch`) a note about a whole batch that reports do not count as a message.
public struct LogEvent: Sendable, Hashable {
    /// What a line is about.
    public enum Kind: String, Sendable, Hashable {
        /// One message (the default; the line has no `event` key).
        case message
        /// A whole batch: how many of its messages were duplicates (`"event": "batch"`).
        case batch
    }

    /// Message or batch note.
    public var kind: Kind = .message
    /// For a batch note: how many messages it counts.
    public var count: Int?
    /// What the message sends (`MessageFingerprint`); lets `herald ledger rebuild` restore it.
    public var fingerprint: String?
    /// When it happened.
    public var timestamp: Date
    /// The message (for a batch note, the batch's row-0 id).
    public var messageID: MessageID
    /// The batch id (JSON `id`, or `sha256:…` of the file).
    public var batch: String
    /// The batch file name.
    public var file: String
    /// The recipient row of the batch (1 = first).
    public var row: Int?
    /// The physical line of the batch file where the row starts.
    public var line: Int?
    /// The template code.
    public var template: String?
    /// The template's category.
    public var category: TemplateCategory?
    /// The channel.
    public var channel: Channel?
    /// Account, SMS channel or app id.
    public var account: String?
    /// Transport name (`file`, `discard`, `smtp`…).
    public var transport: String?
    /// The address, masked unless configured otherwise.
    public var recipient: String?
    /// The status after this event.
    public var status: DeliveryStatus
    /// The attempt number (1 for a first send).
    public var attempt: Int
    /// Time the send took, in milliseconds.
    public var latencyMilliseconds: Double?
    /// The provider's id for the message (SMTP Message-ID, BizId, msgid, file path).
    public var providerID: String?
    /// Why it did not end `sent`.
    public var error: PipelineError?
    /// Row parameters the template does not use.
    public var extra: [String: String]
    /// For an escalation message: the id of the row's first message it escalates from.
    public var escalatedFrom: String?
    /// For a row folded into a digest: the id of the digest message it went into.
    public var digest: String?
    /// For a deferred message: when it will be tried again.
    public var nextAttempt: Date?
    /// The recipient's full address, for the trace index only (never written to the line).
    public var traceAddress: String?
    /// The row's `user_id`, for the trace index only (never written to the line).
    public var traceUser: String?

    /// Creates an event.
    public init(timestamp: Date, messageID: MessageID, batch: String, file: String, row: Int? = nil, line: Int? = nil,
                template: String? = nil, category: TemplateCategory? = nil, channel: Channel? = nil,
                account: String? = nil, transport: String? = nil, recipient: String? = nil, status: DeliveryStatus,
                attempt: Int = 1, latencyMilliseconds: Double? = nil, providerID: String? = nil,
                error: PipelineError? = nil, extra: [String: String] = [:], nextAttempt: Date? = nil) {
        self.nextAttempt = nextAttempt
        self.timestamp = timestamp
        self.messageID = messageID
        self.batch = batch
        self.file = file
        self.row = row
        self.line = line
        self.template = template
        self.category = category
        self.channel = channel
        self.account = account
        self.transport = transport
        self.recipient = recipient
        self.status = status
        self.attempt = attempt
        self.latencyMilliseconds = latencyMilliseconds
        self.providerID = providerID
        self.error = error
        self.extra = extra
    }

    /// The JSON object, keys in a fixed order, without the trailing newline.
    public func jsonLine(timeZone: TimeZone) -> String {
        var json = JSONObjectWriter()
        write(to: &json, timestamp: Timestamp.iso8601(timestamp, timeZone: timeZone), zone: timeZone)
        return String(decoding: json.finish(), as: UTF8.self)
    }

    /// Writes the object with `timestamp` already formatted (shared by a chunk of events).
    func write(to json: inout JSONObjectWriter, timestamp: String, zone: TimeZone, worker: String? = nil) {
        json.add("ts", timestamp)
        if kind != .message { json.add("event", kind.rawValue) }
        json.add("message_id", messageID.value)
        json.add("batch", batch)
        json.add("file", file)
        json.add("row", row)
        json.add("line", line)
        json.add("template", template)
        json.add("category", category?.rawValue)
        json.add("channel", channel?.rawValue)
        json.add("account", account)
        json.add("transport", transport)
        json.add("worker", worker)
        json.add("recipient", recipient)
        json.add("status", status.rawValue)
        json.add("attempt", attempt)
        json.add("count", count)
        json.add("fingerprint", fingerprint)
        json.add("escalated_from", escalatedFrom)
        json.add("digest", digest)

        if let latencyMilliseconds {
            json.addRaw("latency_ms", String(Double(Int((latencyMilliseconds * 1000).rounded())) / 1000))
        }
        json.add("provider_id", providerID)
        if let nextAttempt { json.add("next_attempt", Timestamp.iso8601(nextAttempt, timeZone: zone)) }
        if let error {
            json.beginObject("error")
            json.add("stage", error.stage.rawValue)
            json.add("code", error.code.rawValue)
            json.add("message", error.reason)
            json.endObject()
        }
        if !extra.isEmpty {
            json.beginObject("extra")
            for key in extra.keys.sorted() { json.add(key, extra[key]) }
            json.endObject()
        }
    }
}
