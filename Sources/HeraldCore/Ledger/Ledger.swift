import Crypto
import Foundation
import Synchronization

/// What the ledger keeps for one message: its latest status.
public struct LedgerEntry: Sendable, Hashable {
    /// The message id.
    public var id: MessageID
    /// The batch id.
    public var batch: String
    /// The recipient row of the batch (1 = first).
    public var row: Int
    /// The channel; nil for a row that failed before its channels were known.
    public var channel: Channel?
    /// The template code.
    public var template: String?
    /// The status.
    public var status: DeliveryStatus
    /// The attempt number (1 for a first send).
    public var attempt: Int
    /// The provider's id for the message (SMTP Message-ID, BizId, msgid, file path).
    public var providerID: String?
    /// The error code, when it did not end `sent`: Herald's, or the provider's as it came.
    public var errorCode: FailureCode?
    /// The error message, when it did not end `sent`.
    public var errorMessage: String?
    /// When this status was recorded.
    public var updatedAt: Date
    /// What the message sends (`MessageFingerprint`); nil for rows that failed before their channels were known.
    public var fingerprint: String?
    /// The batch file the message came from (kept per batch: the first file that used the batch id).
    public var file: String?
    /// The worker that sent it, when another worker's send is recorded (a retaken chunk); a
    /// shared ledger fills in its own worker otherwise. Embedded ledgers do not keep it.
    public var worker: String?
    /// The tenant of the message's row (`tenant_id`, default `0`); nil when not known (entries
    /// written before ledgers kept it; a later entry without it keeps the earlier one's).
    public var tenant: String?
    /// `recipientDigest(of:)` of the address the message went to, so a bounce or complaint can
    /// only touch the message's own recipient; nil when not known (kept like `tenant`).
    public var recipient: String?

    /// The digest `recipient` holds: 16 hex digits of the SHA-256 of the address as opt-outs key
    /// it (`Preferences.normalize`).
    public static func recipientDigest(of address: String, channel: Channel) -> String {
        Hex.encode(SHA256.hash(data: Data("herald/recipient\u{0}\(Preferences.normalize(address, channel: channel))".utf8)).prefix(8))
    }

    /// Creates an entry.
    public init(id: MessageID, batch: String, row: Int, channel: Channel?, template: String?, status: DeliveryStatus,
                attempt: Int = 1, providerID: String? = nil, errorCode: FailureCode? = nil, errorMessage: String? = nil,
                updatedAt: Date, fingerprint: String? = nil, file: String? = nil, tenant: String? = nil, recipient: String? = nil) {
        self.fingerprint = fingerprint
        self.file = file
        self.tenant = tenant
        self.recipient = recipient
        self.id = id
        self.batch = batch
        self.row = row
        self.channel = channel
        self.template = template
        self.status = status
        self.attempt = attempt
        self.providerID = providerID
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.updatedAt = updatedAt
    }
}

/// The read side of the 站内信 store that escalations and `herald trace` ask (whether a message
/// was read, and when). HeraldInbox's stores implement it; their writing side is
/// `SiteMessageWriter`, which the ledger of the same adapter calls inside its transaction.
public protocol SiteMessageStore: Sendable {
    /// Whether each stored message of `ids` was read (escalations ask); ids not stored are left out.
    func readStates(of ids: [MessageID]) async throws -> [MessageID: Bool]
    /// When each stored message of `ids` was read (nil: unread); ids not stored are left out.
    func readTimes(of ids: [MessageID]) async throws -> [MessageID: Date?]
}

extension SiteMessageStore {
    public func readTimes(of ids: [MessageID]) async throws -> [MessageID: Date?] {
        try await readStates(of: ids).mapValues { $0 ? Date(timeIntervalSince1970: 0) : nil }
    }
}

/// The in-memory twin of the inbox's delivery side, for tests of the chain.
public final class MemorySiteMessageStore: SiteMessageStore, SiteMessageWriter, Sendable {
    private struct State {
        var stored: [SiteDelivery] = []
        var read: Set<MessageID> = []
    }

    private let state = Mutex(State())

    /// Creates an empty store.
    public init() {}

    /// Every message stored, in order.
    public var messages: [SiteDelivery] { state.withLock { $0.stored } }

    public func deliver(_ messages: [SiteDelivery], in transaction: MemoryTransaction) throws {
        state.withLock { state in
            state.stored += messages.filter { message in !state.stored.contains { $0.messageID == message.messageID } }
        }
    }

    /// Marks a stored message read (what a user's click does in the real inbox).
    public func markRead(_ id: MessageID) {
        state.withLock { _ = $0.read.insert(id) }
    }

    public func readStates(of ids: [MessageID]) throws -> [MessageID: Bool] {
        state.withLock { state in
            ids.reduce(into: [:]) { result, id in
                if state.stored.contains(where: { $0.messageID == id }) { result[id] = state.read.contains(id) }
            }
        }
    }
}

/// A 站内信 to store in the inbox in the same transaction as its ledger entry, so a message is in
/// the inbox if and only if the ledger says sent.
public struct SiteDelivery: Sendable, Hashable {
    /// The message id.
    public var messageID: MessageID
    /// The tenant.
    public var tenantID: String
    /// The user it is for (the address of the site channel).
    public var userID: String
    /// The product's user type.
    public var userType: String?
    /// The template code.
    public var template: String
    /// The sender name shown.
    public var nickname: String?
    /// The text.
    public var content: String
    /// `notification`, `notice` or `announcement`.
    public var type: String
    /// The row's parameters, stored as JSON.
    public var parameters: [String: String]
    /// When it was sent.
    public var createdAt: Date

    /// Creates a delivery.
    public init(messageID: MessageID, tenantID: String, userID: String, userType: String?, template: String, nickname: String?,
                content: String, type: String, parameters: [String: String], createdAt: Date) {
        self.messageID = messageID
        self.tenantID = tenantID
        self.userID = userID
        self.userType = userType
        self.template = template
        self.nickname = nickname
        self.content = content
        self.type = type
        self.parameters = parameters
        self.createdAt = createdAt
    }
}

/// What the ledger says of one message when a batch asks whether it may send it.
public struct LedgerRecord: Sendable, Hashable {
    /// The recorded status.
    public var status: DeliveryStatus
    /// The fingerprint of what was sent under this id, when recorded.
    public var fingerprint: String?
    /// The batch file that first used the message's batch id, when recorded.
    public var file: String?
    /// The worker that recorded it, when the ledger is shared.
    public var worker: String?

    /// Creates a record.
    public init(status: DeliveryStatus, fingerprint: String? = nil, file: String? = nil, worker: String? = nil) {
        self.status = status
        self.fingerprint = fingerprint
        self.file = file
        self.worker = worker
    }
}

/// The record of every message's final status, consulted before sending so nothing is sent twice.
///
/// ```swift
/// let ledger = MemoryLedger()
/// try await ledger.record([entry])
/// try await ledger.statuses(of: [entry.id])   // [entry.id: .sent]
/// ```
public protocol Ledger: Sendable {
    /// Whether any message of `batch` was recorded (a cheap check before per-message lookups).
    func knows(batch: String) async throws -> Bool
    /// The recorded status, fingerprint and batch file of each id that has one.
    func records(of ids: [MessageID]) async throws -> [MessageID: LedgerRecord]
    /// Records entries in one transaction, replacing earlier entries with the same id, and
    /// stores `siteMessages` (the chunk's 站内信) in the same transaction through the ledger's
    /// `SiteMessageWriter`; throws `NoSiteMessageStore` when there are some and it has none.
    func record(_ entries: [LedgerEntry], siteMessages: [SiteDelivery]) async throws
    /// The entries of messages by id, or by provider id (delivery receipts match either).
    func entries(ids: [MessageID], providerIDs: [String]) async throws -> [LedgerEntry]
    /// Whether the ledger cannot be trusted to know what the logs know (see `LedgerHistory`):
    /// it holds no message and was never rebuilt (a lost database looks like this), or a rebuild
    /// from the logs started and did not finish.
    func isBlank() async throws -> Bool
    /// Notes that a rebuild from the logs starts: until `markRebuilt`, the ledger is not trusted.
    func markRebuilding() async throws
    /// Notes that the ledger was rebuilt from the logs, so an empty one is no longer suspicious.
    func markRebuilt(at date: Date) async throws
}

extension Ledger {
    /// Records entries in one transaction, replacing earlier entries with the same id.
    public func record(_ entries: [LedgerEntry]) async throws {
        try await record(entries, siteMessages: [])
    }

    /// The recorded status of each id that has one.
    public func statuses(of ids: [MessageID]) async throws -> [MessageID: DeliveryStatus] {
        try await records(of: ids).mapValues(\.status)
    }
}

/// The in-memory twin of the ledger stores.
public final class MemoryLedger: Ledger, Sendable {
    private struct State {
        var entries: [MessageID: LedgerEntry] = [:]
        /// The first file of each batch id.
        var files: [String: String] = [:]
        var rebuilt = false
        var rebuilding = false

        mutating func store(_ entry: LedgerEntry) {
            var entry = entry
            if entry.fingerprint == nil { entry.fingerprint = entries[entry.id]?.fingerprint }
            if entry.worker == nil { entry.worker = entries[entry.id]?.worker }
            if entry.tenant == nil { entry.tenant = entries[entry.id]?.tenant }
            if entry.recipient == nil { entry.recipient = entries[entry.id]?.recipient }
            entries[entry.id] = entry
            if files[entry.batch] == nil, let file = entry.file { files[entry.batch] = file }
        }
    }

    private let state = Mutex(State())
    private let siteMessages: (any SiteMessageWriter<MemoryTransaction>)?

    /// Creates an empty ledger; `siteMessages` stores the 站内信 recorded with entries.
    public init(siteMessages: (any SiteMessageWriter<MemoryTransaction>)? = nil) {
        self.siteMessages = siteMessages
    }

    /// Every entry, by id.
    public var all: [MessageID: LedgerEntry] { state.withLock { $0.entries } }

    public func knows(batch: String) throws -> Bool {
        state.withLock { $0.entries.values.contains { $0.batch == batch } }
    }

    public func records(of ids: [MessageID]) throws -> [MessageID: LedgerRecord] {
        state.withLock { state in
            ids.reduce(into: [:]) { result, id in
                guard let entry = state.entries[id] else { return }
                result[id] = LedgerRecord(status: entry.status, fingerprint: entry.fingerprint,
                                          file: state.files[entry.batch] ?? entry.file, worker: entry.worker)
            }
        }
    }

    public func isBlank() throws -> Bool {
        state.withLock { ($0.entries.isEmpty && !$0.rebuilt) || $0.rebuilding }
    }

    public func markRebuilding() throws {
        state.withLock { $0.rebuilding = true }
    }

    public func markRebuilt(at date: Date) throws {
        state.withLock { state in
            state.rebuilt = true
            state.rebuilding = false
        }
    }

    public func entries(ids: [MessageID], providerIDs: [String]) throws -> [LedgerEntry] {
        state.withLock { state in
            let wanted = Set(ids), serials = Set(providerIDs)
            return state.entries.values.filter { wanted.contains($0.id) || ($0.providerID.map(serials.contains) ?? false) }
        }
    }

    public func record(_ new: [LedgerEntry], siteMessages messages: [SiteDelivery]) throws {
        try state.withLock { state in
            if !messages.isEmpty {
                guard let siteMessages else { throw NoSiteMessageStore() }
                try siteMessages.deliver(messages, in: MemoryTransaction())
            }
            for entry in new { state.store(entry) }
        }
    }
}
