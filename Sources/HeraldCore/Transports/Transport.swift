import Foundation
import Synchronization

/// Everything a transport needs to send one message.
public struct Envelope: Sendable, Hashable {
    /// Herald's message id.
    public var id: MessageID
    /// The batch it belongs to.
    public var batch: BatchContext
    /// Data row number.
    public var row: Int
    /// The channel.
    public var channel: Channel
    /// Account, SMS channel or app id.
    public var account: String
    /// The normalised address.
    public var address: String
    /// The recipient as the batch gave it (user id and tenant for site messages).
    public var recipient: Recipient
    /// The rendered message.
    public var message: RenderedMessage
    /// Cc and bcc for mail.
    public var mail: MailExtras

    /// Creates an envelope.
    public init(id: MessageID, batch: BatchContext, row: Int, channel: Channel, account: String, address: String,
                recipient: Recipient, message: RenderedMessage, mail: MailExtras = MailExtras()) {
        self.mail = mail
        self.id = id
        self.batch = batch
        self.row = row
        self.channel = channel
        self.account = account
        self.address = address
        self.recipient = recipient
        self.message = message
    }
}

/// What a transport reports for one message.
public struct DeliveryOutcome: Sendable, Hashable {
    /// How it ended.
    public enum Kind: Sendable, Hashable {
        /// Accepted by the provider.
        case sent
        /// Failed, worth retrying later (4xx SMTP, HTTP 429/5xx, timeouts, WeChat -1/45009).
        case transient
        /// Failed for good (5xx SMTP, invalid address, unapproved template).
        case permanent
    }

    /// Sent, transient or permanent.
    public var kind: Kind
    /// The provider's id for the message.
    public var providerID: String?
    /// The provider's error code (`451`, `isv.BUSINESS_LIMIT_CONTROL`, `45009`), or Herald's own
    /// when the provider gave none (`outcome_unknown`, `transient`).
    public var code: FailureCode?
    /// The provider's words.
    public var message: String?
    /// How long the send took, when the transport measured it (batch sends do).
    public var latency: Duration?
    /// A permanent failure saying the mailbox does not exist: the address joins the suppression
    /// list (when `preferences.suppress_bounces` is on). Transports decide; the pipeline only reads it.
    public var isHardBounce = false
    /// The message is a 站内信 to store in the inbox with its ledger row (the inbox transport).
    public var storesInInbox = false
    /// The provider's rate-limit window: the message is retried no sooner (a transient outcome).
    public var retryAfter: Duration?
    /// The provider refused the account itself (a wrong secret, an IP not allowed): nothing more
    /// goes through it in this run, and its remaining messages are spooled (a transient outcome).
    public var stopsAccount = false

    /// Accepted, with the provider's id.
    public static func sent(providerID: String? = nil) -> DeliveryOutcome {
        DeliveryOutcome(kind: .sent, providerID: providerID)
    }

    /// A failure worth retrying.
    public static func transient(code: FailureCode, _ message: String) -> DeliveryOutcome {
        DeliveryOutcome(kind: .transient, code: code, message: message)
    }

    /// A failure that retrying will not fix.
    public static func permanent(code: FailureCode, _ message: String) -> DeliveryOutcome {
        DeliveryOutcome(kind: .permanent, code: code, message: message)
    }
}

/// Sends rendered messages somewhere: a file, an SMTP server, an SMS provider, WeChat.
///
/// Every transport has an in-memory twin for tests (`MemoryTransport`):
///
/// ```swift
/// let transport = MemoryTransport()
/// let outcome = await transport.send(envelope)   // .sent, recorded in transport.sent
/// ```
public protocol Transport: Sendable {
    /// Name written to the log (`file`, `discard`, `smtp`, `aliyun`…).
    var name: String { get }
    /// How many messages it may have in flight at once.
    var concurrency: Int { get }
    /// Sends one message. Never throws: every failure is an outcome.
    func send(_ envelope: Envelope) async -> DeliveryOutcome
    /// Sends many, at most `concurrency` at a time, and returns the outcomes in input order,
    /// each with its latency. `proceed` is asked before each message is started: once it says
    /// no, the messages not started yet come back nil (the send stage pauses a failing transport
    /// this way, without waiting at the end of a slice). `completed` is called with each outcome
    /// as soon as it is known (the send journal writes it down there). The default sends one by
    /// one through `send(_:)` in a sliding window; a transport with its own workers (SMTP) hands
    /// out the whole list.
    func send(all envelopes: [Envelope], proceed: @escaping @Sendable () -> Bool,
              completed: @escaping @Sendable (Int, DeliveryOutcome) -> Void) async -> [DeliveryOutcome?]
    /// Whether sending has an effect outside Herald (false for `discard`): only then is it journaled.
    var hasSideEffects: Bool { get }
}

extension Transport {
    /// Whether a send reaches the outside world (journaled so a crash cannot hide it).
    public var hasSideEffects: Bool { true }

    /// `send(all:proceed:completed:)` without a callback, every message sent.
    public func send(all envelopes: [Envelope]) async -> [DeliveryOutcome] {
        await send(all: envelopes, completed: { _, _ in })
    }

    /// `send(all:proceed:completed:)` with every message sent.
    public func send(all envelopes: [Envelope], completed: @escaping @Sendable (Int, DeliveryOutcome) -> Void) async -> [DeliveryOutcome] {
        await send(all: envelopes, proceed: { true }, completed: completed).map { $0 ?? .transient(code: "not_sent", "not sent") }
    }

    public func send(all envelopes: [Envelope], proceed: @escaping @Sendable () -> Bool,
                     completed: @escaping @Sendable (Int, DeliveryOutcome) -> Void) async -> [DeliveryOutcome?] {
        let clock = ContinuousClock()
        if concurrency <= 1 || envelopes.count == 1 {
            var results = [DeliveryOutcome?](repeating: nil, count: envelopes.count)
            for (index, envelope) in envelopes.enumerated() {
                guard proceed() else { break }
                let start = clock.now
                var outcome = await send(envelope)
                outcome.latency = outcome.latency ?? clock.now - start
                completed(index, outcome)
                results[index] = outcome
            }
            return results
        }
        return await withTaskGroup(of: (Int, DeliveryOutcome).self) { group in
            var results = [DeliveryOutcome?](repeating: nil, count: envelopes.count)
            var next = 0
            func launch() {
                let index = next
                let envelope = envelopes[index]
                next += 1
                group.addTask {
                    let start = clock.now
                    var outcome = await send(envelope)
                    outcome.latency = outcome.latency ?? clock.now - start
                    completed(index, outcome)
                    return (index, outcome)
                }
            }
            while next < envelopes.count && next < concurrency && proceed() { launch() }
            while let (index, outcome) = await group.next() {
                results[index] = outcome
                if next < envelopes.count && proceed() { launch() }
            }
            return results
        }
    }
}

/// The in-memory twin of every transport: records what it was given, and answers with
/// outcomes a test scripts per address.
public final class MemoryTransport: Transport, Sendable {
    /// The name in logs.
    public let name: String
    /// How many messages it may have in flight at once.
    public let concurrency: Int
    private let envelopes = Mutex<[Envelope]>([])
    private let scripted: [String: DeliveryOutcome]
    private let delay: (@Sendable (Envelope) -> Duration)?
    private let stall: (@Sendable (Envelope) async -> Void)?

    /// Creates a transport that sends everything, except addresses given an outcome in `outcomes`.
    /// `delay` makes each send take a while (to test concurrency and ordering); `stall` is awaited
    /// before each send (a test holds a send there until it has seen what it wants).
    public init(name: String = "memory", concurrency: Int = 4, outcomes: [String: DeliveryOutcome] = [:],
                delay: (@Sendable (Envelope) -> Duration)? = nil, stall: (@Sendable (Envelope) async -> Void)? = nil) {
        self.name = name
        self.concurrency = concurrency
        self.scripted = outcomes
        self.delay = delay
        self.stall = stall
    }

    /// Envelopes received, in the order `send` was called.
    public var sent: [Envelope] {
        envelopes.withLock { $0 }
    }

    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        if let stall { await stall(envelope) }
        if let delay { try? await Task.sleep(for: delay(envelope)) }
        return envelopes.withLock { envelopes in
            envelopes.append(envelope)
            return scripted[envelope.address] ?? .sent(providerID: "memory-\(envelopes.count)")
        }
    }
}

/// The transport for each (channel, account) pair of a workspace.
public struct TransportSet: Sendable {
    private var transports: [TransportKey: any Transport]

    /// Creates an empty set.
    public init() {
        transports = [:]
    }

    /// Routes `channel` messages of `account` to `transport`.
    public mutating func set(_ transport: any Transport, channel: Channel, account: String) {
        transports[TransportKey(channel, account)] = transport
    }

    /// The transport for `channel` and `account`.
    public func transport(channel: Channel, account: String) -> (any Transport)? {
        transports[TransportKey(channel, account)]
    }

    /// A set that sends every channel of every account through `transport`.
    public static func all(_ transport: any Transport, configuration: Configuration) -> TransportSet {
        var set = TransportSet()
        set.set(transport, channel: .site, account: "site")
        for id in configuration.mailAccounts.keys { set.set(transport, channel: .mail, account: id) }
        for id in configuration.smsChannels.keys { set.set(transport, channel: .sms, account: id) }
        for (id, app) in configuration.wechatApps {
            set.set(transport, channel: app.kind.channel, account: id)
        }
        for id in configuration.wecomApps.keys { set.set(transport, channel: .wecom, account: id) }
        for id in configuration.dingtalkApps.keys { set.set(transport, channel: .dingtalk, account: id) }
        for id in configuration.feishuApps.keys { set.set(transport, channel: .feishu, account: id) }
        return set
    }
}
