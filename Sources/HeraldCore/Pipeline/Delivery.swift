import Crypto
import Foundation

/// Herald's id for one message, stable for (batch id, row number, channel): a batch dropped
/// again or resumed after a crash maps every row to the same ids.
///
/// 32 lowercase hex characters: 16 of SHA-256(batch id), 12 of the row number, 4 naming the
/// channel (`0000` for a whole row). The ids of one batch therefore sort in row order, so the
/// ledger appends to its index instead of scattering writes, and no two messages of a batch
/// can collide; across batches the 64-bit digest keeps them apart.
public struct MessageID: Sendable, Hashable, CustomStringConvertible, Comparable {
    /// The 32 hex characters.
    public let value: String

    /// Wraps an id read back from the ledger or a log.
    public init(_ value: String) {
        self.value = value
    }

    /// The id of `channel` (a `Channel` raw value, or `row`) for `row` of the batch `batchID`.
    public init(batch batchID: String, row: Int, channel: String) {
        self.init(batchDigest: MessageID.digest(of: batchID), row: row, channel: channel)
    }

    /// The same, with the batch's digest computed once (`MessageID.digest(of:)`).
    public init(batchDigest: String, row: Int, channel: String) {
        let rowHex = String(UInt64(max(0, row)) & 0xFFFF_FFFF_FFFF, radix: 16)
        let code: String
        switch channel {
        case Channel.site.rawValue: code = "0001"
        case Channel.mail.rawValue: code = "0002"
        case Channel.sms.rawValue: code = "0003"
        case Channel.wechatMP.rawValue: code = "0004"
        case Channel.wechatMini.rawValue: code = "0005"
        default: code = "0000"
        }
        value = batchDigest + String(repeating: "0", count: 12 - rowHex.count) + rowHex + code
    }

    /// The first 16 hex characters of SHA-256(`batchID`).
    public static func digest(of batchID: String) -> String {
        var hasher = SHA256()
        hasher.update(data: Data("herald/1\u{0}\(batchID)".utf8))
        return Hex.encode(hasher.finalize().prefix(8))
    }

    public var description: String { value }

    public static func < (lhs: MessageID, rhs: MessageID) -> Bool { lhs.value < rhs.value }
}

/// What one message sends — template, channel, address and parameters — as 16 hex characters.
/// The ledger keeps it beside the message id: a batch id used again with the same content is a
/// duplicate, with other content a conflict (`id_conflict`), never a silent duplicate.
public enum MessageFingerprint {
    /// The fingerprint of a message. Parameters are taken in key order; the address as written,
    /// trimmed of surrounding spaces.
    public static func of(template: String, channel: Channel, address: String, parameters: [String: String]) -> String {
        var hasher = SHA256()
        let separator: [UInt8] = [0]
        func add(_ text: String) {
            var text = text
            text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
            separator.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        add("herald-fingerprint/1")
        add(template)
        add(channel.rawValue)
        add(address.first == " " || address.last == " " ? address.trimmingCharacters(in: .whitespaces) : address)
        for key in parameters.keys.sorted() {
            add(key)
            add(parameters[key] ?? "")
        }
        return Hex.encode(hasher.finalize().prefix(8))
    }
}

/// Identity and provenance of a batch: shared by every message of it.
public struct BatchContext: Sendable, Hashable {
    /// The batch id: the declared id (JSON `id`, `herald send --id`), or `sha256:` + the hash of
    /// the file's name and bytes together.
    public var id: String
    /// The file name as dropped in the inbox (`send` for `herald send`).
    public var file: String
    /// `MessageID.digest(of: id)`, computed once per batch.
    public let digest: String

    /// Why `id` cannot be a declared batch id (it is copied into every log line and ledger row),
    /// or nil: 1 to 200 characters, none of them a control character, and not beginning with one
    /// of Herald's own prefixes (`sha256:` for a file's computed id, `api:` for a batch posted to
    /// `herald serve`), so a declared id never takes the identity of another batch. `ingested`
    /// allows `api:` (and up to 400 characters): the batch is one `POST /v1/notifications` wrote.
    public static func declaredIDProblem(_ id: String, ingested: Bool = false) -> String? {
        let limit = ingested ? 400 : 200
        if id.isEmpty || id.count > limit { return "a batch id has 1 to \(limit) characters; this one has \(id.count)" }
        if id.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            return "a batch id cannot hold control characters (NUL, newline, tab…)"
        }
        for prefix in ["sha256:", "api:"] where id.lowercased().hasPrefix(prefix) && !(ingested && prefix == "api:") {
            return "a batch id cannot begin with '\(prefix)': Herald gives such ids to \(prefix == "api:" ? "batches posted to herald serve" : "files without one")"
        }
        return nil
    }

    /// The batch id of a batch posted to `herald serve` with `key` (the `Idempotency-Key`, or
    /// the body's `id`): `api:TENANT:CLIENT:KEY`, so each client and tenant has its own keys and
    /// none is a batch file's id (`declaredIDProblem` refuses the prefix in files). `%` and `:`
    /// in the client's name are percent-encoded, so no two (client, key) pairs meet.
    public static func ingestID(tenant: String, client: String, key: String) -> String {
        let escaped = client.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: ":", with: "%3A")
        return "api:\(tenant):\(escaped):\(key)"
    }

    /// Creates a context.
    public init(id: String, file: String) {
        self.id = id
        self.file = file
        self.digest = MessageID.digest(of: id)
    }

    /// The message id of `channel` for `row` of this batch.
    public func messageID(row: Int, channel: String) -> MessageID {
        MessageID(batchDigest: digest, row: row, channel: channel)
    }
}

/// One message on one channel, as it moves through the stages.
public struct Delivery: Sendable, Hashable {
    public static func == (lhs: Delivery, rhs: Delivery) -> Bool {
        lhs.id == rhs.id && lhs.channel == rhs.channel && lhs.address == rhs.address && lhs.status == rhs.status
            && lhs.error == rhs.error && lhs.message == rhs.message && lhs.attempt == rhs.attempt
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(status)
    }

    /// The message id.
    public var id: MessageID
    /// The channel.
    public var channel: Channel
    /// The normalised address (`+8613800138000`, `li@example.com`, an openid, a user id).
    public var address: String
    /// What the message sends (`MessageFingerprint`), set by the load stage.
    public var fingerprint: String?

    /// Account, SMS channel or app id that sends it (`default`, `aliyun`, `mp`; `site` for site).
    public var account: String = ""
    /// The rendered message, once the render stage ran.
    public var message: RenderedMessage?
    /// The outcome so far: nil while pending.
    public var status: DeliveryStatus?
    /// Why it did not end `sent`.
    public var error: PipelineError?
    /// The provider's id for the message (SMTP Message-ID, BizId, msgid, file path).
    public var providerID: String?
    /// The transport used (`file`, `discard`, `smtp`…).
    public var transport: String?
    /// Time spent in the send stage.
    public var latency: Duration?
    /// The transport said the mailbox does not exist (see `DeliveryOutcome.isHardBounce`).
    public var isHardBounce = false
    /// The transport said to store it in the 站内信 inbox (see `DeliveryOutcome.storesInInbox`).
    public var storesInInbox = false
    /// Accounts tried before the one that sent it, with why each failed (mail account failover).
    public var failover: [String] = []
    /// Attempt number (1 for a first send).
    public var attempt: Int = 1
    /// Set when the rate-limit stage (or a paused transport) holds the message back until then.
    public var deferUntil: Date?
    /// How long the provider asked to wait before the next try (its rate-limit window); the
    /// spool retries no sooner, even when the backoff is shorter.
    public var retryAfter: Duration?
    /// When the row asked to be sent (`send_at`), set by the validate stage; a time still ahead
    /// at the rate-limit stage makes the message `scheduled`.
    public var sendAt: Date?
    /// For a variant held back by the template's `escalate:`: what would make it unnecessary.
    public var escalation: EscalationCheck?
    /// For a held-back variant in its first run: how long after the first messages it is due.
    public var escalateAfter: Duration?
    /// For a row folded into a digest: the id of the digest message it went into.
    public var digestMessage: String?
    /// Set when a per-recipient cap counted this message (the record stage stores the count).
    public var countedAt: Date?
    /// For a message taken from the spool: its failed attempts so far and when it was first seen.
    public var spooled: (attempts: Int, firstSeen: Date)?
    /// For a duplicate: the worker the ledger says sent it (PostgreSQL mode), when known.
    public var sentBy: String?

    /// Creates a pending delivery.
    public init(id: MessageID, channel: Channel, address: String) {
        self.id = id
        self.channel = channel
        self.address = address
    }

    /// Whether later stages still have work to do on it.
    public var isPending: Bool { status == nil }
}

/// One recipient row in flight: the row, its template, and one delivery per channel.
public struct Job: Sendable, Hashable {
    public static func == (lhs: Job, rhs: Job) -> Bool {
        lhs.batch == rhs.batch && lhs.row == rhs.row && lhs.deliveries == rhs.deliveries && lhs.failure == rhs.failure
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(batch)
        hasher.combine(row)
    }

    /// The batch it belongs to.
    public var batch: BatchContext
    /// The row as read (only its number and line when the record could not be read).
    public var row: RecipientRow
    /// The template, once the load stage found it. Held by reference: a job is copied as it
    /// moves between stages, and a template is large.
    public var template: Template? {
        get { templateReference?.template }
        set { templateReference = newValue.map(TemplateReference.init) }
    }
    var templateReference: TemplateReference?
    /// Deliveries, one per channel, in channel order.
    public var deliveries: [Delivery] = []
    /// A failure of the whole row before channels are known (unreadable record, unknown template).
    public var failure: PipelineError?
    /// The status `failure` gives the row.
    public var failureStatus: DeliveryStatus?
    /// Parameters the template does not use: kept in the log.
    public var extraParameters: [String: String] = [:]
    /// The digest message itself (its rows were folded already): never folded again.
    public var isDigest = false
    /// The job's queued chunk was claimed before by a worker that did not finish it: some of its
    /// messages may be sent already, so the load stage asks the ledger whatever it knew of the batch.
    public var isRetaken = false
    /// The send journal segment of the chunk, deleted once the chunk is in the ledger.
    var journal: JournalSegment?

    /// Creates a job for a row.
    public init(batch: BatchContext, row: RecipientRow) {
        self.batch = batch
        self.row = row
    }

    /// An error located at this job's row.
    public func error(_ stage: StageName, _ failure: StageFailure) -> PipelineError {
        PipelineError(stage: stage, file: batch.file, line: row.line, row: row.row, code: failure.code, reason: failure.reason)
    }
}

/// Lowercase hexadecimal: message ids, file digests, provider signatures.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `bytes` as lowercase hex, two characters a byte.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var output = [UInt8]()
        output.reserveCapacity(64)
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: output, as: UTF8.self)
    }
}

/// A template shared by reference between the jobs that use it.
final class TemplateReference: Sendable, Hashable {
    let template: Template
    /// `template.channels`, worked out once.
    let channels: [Channel]

    init(_ template: Template) {
        self.template = template
        channels = template.channels
    }

    static func == (lhs: TemplateReference, rhs: TemplateReference) -> Bool {
        lhs === rhs || lhs.template == rhs.template
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(template.code)
    }
}
