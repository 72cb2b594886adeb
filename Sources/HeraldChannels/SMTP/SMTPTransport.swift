import Foundation
import Synchronization
import HeraldCore

/// Sends mail through one account's SMTP server over a pool of `connections` open sessions,
/// each reused from message to message.
///
/// ```swift
/// let transport = SMTPTransport(account: account, settings: smtp, root: workspace.root, timeZone: zone)
/// let outcome = await transport.send(envelope)   // .sent(providerID: "<id@shop.example.com>")
/// ```
public final class SMTPTransport: Transport, Sendable {
    /// The name in logs.
    public let name = "smtp"
    /// How many messages it may have in flight at once.
    public var concurrency: Int { settings.connections }
    /// The account it sends for.
    public let account: MailAccount
    private let settings: SMTPSettings
    private let composer: MailComposer
    private let root: URL
    private let pool: ConnectionPool

    /// Creates the transport for `account` (which must have SMTP settings).
    public init(account: MailAccount, settings: SMTPSettings, root: URL, timeZone: TimeZone) {
        self.account = account
        self.settings = settings
        self.root = root
        composer = MailComposer(timeZone: timeZone)
        let helo = account.from.split(separator: "@").last.map(String.init) ?? "localhost"
        pool = ConnectionPool(limit: settings.connections) { index in
            SMTPConnection(settings: settings, helo: helo, label: "\(account.id).\(index)")
        }
    }

    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        await send(all: [envelope])[0]
    }

    /// Sends the list over up to `connections` sessions at once. Each session's worker takes the
    /// next unsent message, composes it and sends it, on its own thread, until none are left:
    /// one hand-off per session per list instead of one per message.
    public func send(all envelopes: [Envelope], proceed: @escaping @Sendable () -> Bool,
                     completed: @escaping @Sendable (Int, DeliveryOutcome) -> Void) async -> [DeliveryOutcome?] {
        let results = OutcomeSlots(count: envelopes.count)
        let workers = min(settings.connections, envelopes.count)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    guard let connection = await self.pool.acquire() else {
                        while let index = results.claim() {
                            results.set(index, .transient(code: "curl_init", "libcurl could not create a handle"))
                        }
                        return
                    }
                    await connection.run {
                        let clock = ContinuousClock()
                        while proceed(), let index = results.claim() {
                            let start = clock.now
                            var outcome = self.deliver(envelopes[index], over: connection)
                            outcome.latency = clock.now - start
                            completed(index, outcome)
                            results.set(index, outcome)
                        }
                    }
                    await self.pool.release(connection)
                }
            }
        }
        return results.outcomes
    }

    /// Composes and sends one message; runs on the connection's thread.
    private func deliver(_ envelope: Envelope, over connection: SMTPConnection) -> DeliveryOutcome {
        guard case let .mail(mail) = envelope.message.content else {
            return .permanent(code: "wrong_channel", "the smtp transport sends mail only")
        }
        let message: MIMEMessage
        do {
            message = try composer.compose(mail, account: account, to: MailAddress(envelope.address), extras: envelope.mail,
                                           root: root, messageID: envelope.id.value)
        } catch {
            return .permanent(code: "attachment_unreadable", "could not read an attachment: \(error)")
        }
        let recipients = [envelope.address] + envelope.mail.cc + envelope.mail.bcc
        let reply = connection.perform(from: account.envelopeSender(messageID: envelope.id.value), recipients: recipients, message: message.data)
        var outcome = reply.outcome
        if outcome.code == .outcomeUnknown, connection.resendsUnconfirmed {
            // The operator chose a possible duplicate over a possible loss.
            outcome.kind = .transient
        }
        if outcome.kind == .sent {
            outcome.providerID = "<\(message.messageID)>"
        }
        return outcome
    }
}

/// Outcomes filled in by several workers; `claim` hands out each index once.
final class OutcomeSlots: Sendable {
    private struct Slots {
        var outcomes: [DeliveryOutcome?]
        var next = 0
    }

    private let slots: Mutex<Slots>

    init(count: Int) {
        slots = Mutex(Slots(outcomes: Array(repeating: nil, count: count)))
    }

    func claim() -> Int? {
        slots.withLock { slots in
            guard slots.next < slots.outcomes.count else { return nil }
            slots.next += 1
            return slots.next - 1
        }
    }

    func set(_ index: Int, _ outcome: DeliveryOutcome) {
        slots.withLock { $0.outcomes[index] = outcome }
    }

    var outcomes: [DeliveryOutcome?] { slots.withLock { $0.outcomes } }
}

/// Hands out at most `limit` connections, created on first need and reused after.
actor ConnectionPool {
    private let limit: Int
    private let make: @Sendable (Int) -> SMTPConnection?
    private var idle: [SMTPConnection] = []
    private var created = 0
    private var waiting: [CheckedContinuation<SMTPConnection?, Never>] = []

    init(limit: Int, make: @escaping @Sendable (Int) -> SMTPConnection?) {
        self.limit = max(1, limit)
        self.make = make
    }

    func acquire() async -> SMTPConnection? {
        if let connection = idle.popLast() { return connection }
        if created < limit {
            created += 1
            return make(created)
        }
        return await withCheckedContinuation { waiting.append($0) }
    }

    func release(_ connection: SMTPConnection) {
        if waiting.isEmpty {
            idle.append(connection)
        } else {
            waiting.removeFirst().resume(returning: connection)
        }
    }
}
