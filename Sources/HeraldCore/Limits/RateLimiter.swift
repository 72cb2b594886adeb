import Foundation
import Synchronization

/// The decisions of the rate-limit stage for one run: preferences and suppressions, quiet
/// hours, and per-recipient caps counted across runs.
public final class RateLimiter: Sendable {
    /// herald.yaml: caps, quiet hours and the time zone.
    public let configuration: Configuration
    /// Opt-outs and suppressions.
    public let preferences: Preferences
    /// Sends per recipient so far, kept across runs.
    public let counters: any RecipientCounters
    /// The clock of quiet hours, caps and waits.
    public let clock: any HeraldClock
    /// Approvals of the last few chunks, which the record stage may not have written yet, in
    /// order and by channel and address.
    private struct Recent {
        var chunks: [[(channel: Channel, address: String, at: Date)]] = []
        var index: [AddressKey: [Date]] = [:]
    }

    private let recent = Mutex(Recent())
    private static let recentChunks = 6

    /// Where rows of digest templates are folded (nil: they are sent one by one).
    public let digests: (any DigestStore)?

    /// Creates a limiter; rows of digest templates are folded into `digests`.
    public init(configuration: Configuration, preferences: Preferences, counters: any RecipientCounters, clock: any HeraldClock,
                digests: (any DigestStore)? = nil) {
        self.configuration = configuration
        self.preferences = preferences
        self.counters = counters
        self.clock = clock
        self.digests = digests
    }

    /// Decides every pending rendered delivery of the chunk: suppressed, deferred, or on to send.
    func apply(_ jobs: inout [Job]) async throws {
        let now = clock.now()
        if let digests { try await fold(&jobs, into: digests, now: now) }
        // A row whose send_at is still ahead waits in the spool until then (`scheduled`); caps,
        // quiet hours and preferences are decided when it is due.
        for j in jobs.indices where jobs[j].failure == nil {
            for d in jobs[j].deliveries.indices where jobs[j].deliveries[d].isPending {
                let sendAt = jobs[j].deliveries[d].sendAt
                if let after = jobs[j].deliveries[d].escalateAfter {
                    // An escalation variant: due `after` past the first messages' time.
                    jobs[j].deliveries[d].status = .scheduled
                    jobs[j].deliveries[d].deferUntil = max(now, sendAt ?? now).addingTimeInterval(after.seconds)
                } else if let at = sendAt, at > now {
                    jobs[j].deliveries[d].status = .scheduled
                    jobs[j].deliveries[d].deferUntil = at
                }
            }
        }
        // The send history of every capped address in the chunk: one query per channel, plus the
        // approvals of recent chunks that the record stage may not have written yet.
        var wanted: [Channel: Set<String>] = [:]
        var longest: [Channel: Duration] = [:]
        for j in jobs.indices where jobs[j].failure == nil {
            for d in jobs[j].deliveries.indices where jobs[j].deliveries[d].isPending {
                let channel = jobs[j].deliveries[d].channel
                guard let category = jobs[j].deliveries[d].message?.category,
                      let window = configuration.recipientCaps(channel: channel, category: category).map(\.period).max() else { continue }
                wanted[channel, default: []].insert(jobs[j].deliveries[d].address)
                longest[channel] = max(longest[channel] ?? .zero, window)
            }
        }
        var approved: [(channel: Channel, address: String, at: Date)] = []
        // Shared counters (PostgreSQL) hold every worker's approvals already: no overlay of our own.
        let shared = counters.recordsWhileDeciding
        func decideChunk(_ counters: any RecipientCounters) async throws -> [(channel: Channel, address: String, at: Date)] {
            var history: [AddressKey: [Date]] = [:]
            let (overlayStart, overlay) = shared ? (Date.distantFuture, [:])
                : recent.withLock { ($0.chunks.first?.first?.at ?? now, $0.index) }
            for (channel, addresses) in wanted {
                let window = longest[channel] ?? .zero
                let found = try await counters.sends(channel: channel, addresses: Array(addresses), since: now.addingTimeInterval(-window.seconds))
                for (address, times) in found {
                    // Sends from chunks still in the overlay come from memory, not the database.
                    history[Self.key(channel, address)] = times.filter { $0 < overlayStart }
                }
                for address in addresses {
                    if let times = overlay[Self.key(channel, address)] { history[Self.key(channel, address), default: []] += times }
                }
            }
            for j in jobs.indices where jobs[j].failure == nil {
                for d in jobs[j].deliveries.indices where jobs[j].deliveries[d].isPending {
                    guard let category = jobs[j].deliveries[d].message?.category else { continue }
                    let channel = jobs[j].deliveries[d].channel
                    let address = jobs[j].deliveries[d].address
                    let capped = wanted[channel]?.contains(address) == true
                    let decision = decide(jobs[j].deliveries[d], category: category, userID: jobs[j].row.recipient.userID,
                                          tenant: jobs[j].row.recipient.tenantID ?? "0", now: now,
                                          history: capped ? history[Self.key(channel, address)] ?? [] : [],
                                          timeZone: jobs[j].row.recipient.timeZone.flatMap(TimeZone.init(identifier:)))
                    switch decision {
                    case .send(let counted):
                        if counted {
                            history[Self.key(channel, address), default: []].append(now)
                            approved.append((channel, address, now))
                            jobs[j].deliveries[d].countedAt = now
                        }
                    case let .hold(until, failure):
                        jobs[j].deliveries[d].status = failure.status
                        jobs[j].deliveries[d].deferUntil = until
                        jobs[j].deliveries[d].error = jobs[j].error(.rateLimit, failure)
                    }
                }
            }
            return approved
        }
        // A chunk without a capped address needs no counters, and no other worker's word.
        if wanted.isEmpty {
            _ = try await decideChunk(counters)
        } else {
            try await counters.deciding(decideChunk)
        }
        if shared {
            // The approvals are recorded already; the record stage must not count them again.
            for j in jobs.indices { for d in jobs[j].deliveries.indices { jobs[j].deliveries[d].countedAt = nil } }
            return
        }
        // The record stage writes the approvals to the counters together with the ledger.
        recent.withLock { recent in
            guard !approved.isEmpty else { return }
            recent.chunks.append(approved)
            for approval in approved { recent.index[Self.key(approval.channel, approval.address), default: []].append(approval.at) }
            while recent.chunks.count > Self.recentChunks {
                for old in recent.chunks.removeFirst() {
                    let key = Self.key(old.channel, old.address)
                    recent.index[key]?.removeFirst()
                    if recent.index[key]?.isEmpty == true { recent.index[key] = nil }
                }
            }
        }
    }

    /// Rows of a template with `digest:` go into its open digest for their key instead of being
    /// sent: each delivery ends `digested`, naming the digest message it went into.
    func fold(_ jobs: inout [Job], into digests: any DigestStore, now: Date) async throws {
        for j in jobs.indices where jobs[j].failure == nil && !jobs[j].isDigest {
            guard let template = jobs[j].template, let rule = template.digest,
                  jobs[j].deliveries.contains(where: { $0.isPending && $0.spooled == nil }) else { continue }
            let row = jobs[j].row
            let failure: StageFailure?
            if let key = rule.keyValue(of: row) {
                if let missing = rule.item.placeholders.first(where: { (row.parameters[$0] ?? "").isEmpty }) {
                    failure = StageFailure(.invalid, code: .missingParameter,
                                           "missing parameter '\(missing)' for the digest item of template '\(template.code)'")
                } else {
                    let item = DigestItem(batch: jobs[j].batch.id, file: jobs[j].batch.file, row: row,
                                          text: rule.item.render(row.parameters, escaping: .plain))
                    let digest = try await digests.add(item, template: template.code, key: key, now: now, window: rule.window, max: rule.max)
                    for d in jobs[j].deliveries.indices where jobs[j].deliveries[d].isPending {
                        jobs[j].deliveries[d].status = .digested
                        jobs[j].deliveries[d].digestMessage = digest.messageID(channel: jobs[j].deliveries[d].channel).value
                    }
                    continue
                }
            } else {
                failure = StageFailure(.invalid, code: .noDigestKey,
                                       "template '\(template.code)' folds rows by \(rule.key), and this row has none; fill the \(rule.key) column")
            }
            if let failure {
                for d in jobs[j].deliveries.indices where jobs[j].deliveries[d].isPending {
                    jobs[j].deliveries[d].status = failure.status
                    jobs[j].deliveries[d].error = jobs[j].error(.rateLimit, failure)
                }
            }
        }
    }

    private static func key(_ channel: Channel, _ address: String) -> AddressKey {
        AddressKey(channel: channel, address: address)
    }

    struct AddressKey: Hashable {
        var channel: Channel
        var address: String
    }

    enum Decision {
        /// Send; `counted` when a cap applies and the send must be counted.
        case send(counted: Bool)
        /// Suppress (until nil) or defer until a time.
        case hold(until: Date?, StageFailure)
    }

    func decide(_ delivery: Delivery, category: TemplateCategory, userID: String?, tenant: String = "0", now: Date, history: [Date],
                timeZone zone: TimeZone? = nil) -> Decision {
        // Quiet hours are the recipient's when the row names a zone (the validate stage checked it).
        let zone = zone ?? configuration.timeZone
        if let reason = preferences.reason(channel: delivery.channel, category: category, userID: userID, address: delivery.address, tenant: tenant) {
            return .hold(until: nil, StageFailure(.suppressed, code: .suppressed, reason))
        }
        if let window = configuration.quietHours[category], let end = window.end(of: now, timeZone: zone) {
            return .hold(until: end, StageFailure(.deferred, code: .quietHours,
                "quiet hours \(window) for \(category.rawValue) messages; deferred to \(Timestamp.iso8601(end, timeZone: zone))"))
        }
        let caps = configuration.recipientCaps(channel: delivery.channel, category: category)
        guard !caps.isEmpty else { return .send(counted: false) }
        var allowedAt = now
        var reached: RateLimit?
        for cap in caps {
            let windowStart = now.addingTimeInterval(-cap.period.seconds)
            let inWindow = history.filter { $0 > windowStart }
            if inWindow.count >= cap.count {
                // Allowed again when enough of the window's sends have aged out.
                let free = inWindow[inWindow.count - cap.count].addingTimeInterval(cap.period.seconds)
                if free > allowedAt {
                    allowedAt = free
                    reached = cap
                }
            }
        }
        guard let reached else { return .send(counted: true) }
        let wait = allowedAt.timeIntervalSince(now)
        let who = RecipientMasking.masked.apply(delivery.address, channel: delivery.channel)
        if category == .verification && wait > configuration.verificationMaxWait.seconds {
            return .hold(until: nil, StageFailure(.suppressed, code: .recipientCap,
                "per-recipient cap \(reached) reached for \(who); the verification code would arrive \(Int(wait))s late, so it is not sent"))
        }
        return .hold(until: allowedAt, StageFailure(.deferred, code: .recipientCap,
            "per-recipient cap \(reached) reached for \(who); deferred to \(Timestamp.iso8601(allowedAt, timeZone: configuration.timeZone))"))
    }
}
