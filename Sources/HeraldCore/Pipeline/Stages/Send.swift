import Foundation

extension PipelineStage {
    /// **send**: hands rendered deliveries to their transports — at most `concurrency` in flight
    /// per transport, in slices as the transport's token bucket allows — and keeps the outcome:
    /// transient failures become `deferred`, permanent ones `failed`. After `burst_failures`
    /// failures in a row a transport is paused for the rest of the run and its messages are
    /// deferred. With a journal, every slice is written down as in flight before it goes and
    /// every send as it completes.
    public static func send(through transports: TransportSet, control: SendControl? = nil,
                            journal: SendJournal? = nil) -> PipelineStage {
        PipelineStage(.send) { jobs in
            var groups: [TransportKey: (transport: any Transport, items: [(Int, Int)])] = [:]
            var order: [TransportKey] = []
            for j in jobs.indices where jobs[j].failure == nil {
                for d in jobs[j].deliveries.indices where jobs[j].deliveries[d].isPending {
                    let delivery = jobs[j].deliveries[d]
                    guard let transport = transports.transport(channel: delivery.channel, account: delivery.account) else {
                        jobs[j].deliveries[d].status = .failed
                        jobs[j].deliveries[d].error = jobs[j].error(.send, StageFailure(.failed, code: .noTransport,
                            "no transport for \(delivery.channel.rawValue) '\(delivery.account)'; define it in herald.yaml"))
                        continue
                    }
                    let key = TransportKey(delivery.channel, delivery.account)
                    if groups[key] == nil {
                        groups[key] = (transport, [])
                        order.append(key)
                    }
                    groups[key]?.items.append((j, d))
                }
            }
            // The journal segment of this chunk, opened when a transport with side effects first sends.
            var segment: JournalSegment?
            // A mail message whose account fails for now, or is over its daily quota, moves to the
            // template's next account: its key is (re)queued here behind the others.
            func failOver(_ j: Int, _ d: Int, because reason: String) -> Bool {
                let delivery = jobs[j].deliveries[d]
                guard case let .mail(mail)? = delivery.message?.content, let fallbacks = mail.fallbackAccounts,
                      let position = ([mail.account] + fallbacks).firstIndex(of: delivery.account),
                      position < fallbacks.count else { return false }
                let next = fallbacks[position]
                guard let transport = transports.transport(channel: .mail, account: next) else { return false }
                jobs[j].deliveries[d].failover.append("\(delivery.account): \(reason)")
                jobs[j].deliveries[d].account = next
                let key = TransportKey(.mail, next)
                if groups[key] == nil { groups[key] = (transport, []) }
                groups[key]?.items.append((j, d))
                if !order.contains(key) { order.append(key) }
                return true
            }
            while let key = order.first {
                order.removeFirst()
                guard let group = groups[key] else { continue }
                groups[key]?.items = []
                let transport = group.transport
                // Why no further message of this transport may start: paused, or (for a transport
                // with side effects) its sends cannot reach the shared store, so a worker could not
                // tell the others what it sent; the messages wait in the spool.
                let journaledSends = transport.hasSideEffects
                let stopReason: @Sendable () -> String? = {
                    control?.pauseReason(key) ?? (journaledSends ? journal?.progressFailure : nil)
                }
                var remaining = group.items[...]
                while let (firstJ, firstD) = remaining.first {
                    if let reason = stopReason() {
                        for (j, d) in remaining where !failOver(j, d, because: reason) { pause(&jobs[j], delivery: d, reason: reason, control: control) }
                        break
                    }
                    let delivery = jobs[firstJ].deliveries[firstD]
                    var size = remaining.count
                    if let control {
                        // A healthy transport takes the whole group and asks before each
                        // message whether to go on: no barrier every few dozen messages.
                        size = min(size, control.sliceSize(key))
                        size = try await control.take(key, upTo: size)
                        if size == 0 {
                            // The rate allows the next message only later than a run should wait:
                            // each waits in the spool for its own slot.
                            let times = try await control.schedule(key, count: remaining.count)
                            let rate = control.rate(channel: delivery.channel, account: delivery.account).map { "\($0)" } ?? "its rate"
                            for ((j, d), at) in zip(remaining, times) {
                                hold(&jobs[j], delivery: d, until: at, code: .rateLimited,
                                     "\(delivery.channel.rawValue) account '\(delivery.account)' is limited to \(rate); "
                                     + "deferred to \(Timestamp.iso8601(at, timeZone: control.timeZone)), the next send the rate allows")
                            }
                            break
                        }
                        if let (granted, resets) = try await control.takeQuota(key, upTo: size),
                           granted < size {
                            // Over today's quota: the rest of this account's messages go to the next
                            // account, or wait for the quota to start again at midnight.
                            let quota = control.dailyQuota(delivery.channel, delivery.account) ?? 0
                            let reason = "over its daily quota of \(quota)"
                            for (j, d) in remaining.dropFirst(granted) where !failOver(j, d, because: reason) {
                                hold(&jobs[j], delivery: d, until: resets, code: .quotaExceeded,
                                     "\(delivery.channel.rawValue) account '\(delivery.account)' is \(reason); "
                                     + "deferred to \(Timestamp.iso8601(resets, timeZone: control.timeZone)), when it starts again")
                            }
                            remaining = remaining.prefix(granted)
                            size = granted
                            if size == 0 { break }
                        }
                    }

                    let slice = Array(remaining.prefix(size))
                    remaining = remaining.dropFirst(size)
                    let envelopes = slice.compactMap { j, d in envelope(jobs[j], jobs[j].deliveries[d]) }
                    if transport.hasSideEffects, segment == nil, let journal { segment = try journal.segment() }
                    let journaled = transport.hasSideEffects ? segment : nil
                    journaled?.inFlight(envelopes.map(\.id))
                    let name = transport.name
                    let outcomes = await transport.send(all: envelopes, proceed: { stopReason() == nil }) { index, outcome in
                        if outcome.kind == .sent { journaled?.sent(envelopes[index], transport: name, providerID: outcome.providerID) }
                        _ = control?.observe(key, [outcome], transport: name)
                    }
                    // Messages the transport did not start (it was paused meanwhile) go back to
                    // the front: the pause check above holds them or moves them on.
                    var unstarted: [(Int, Int)] = []
                    for ((j, d), outcome) in zip(slice, outcomes) {
                        guard let outcome else {
                            unstarted.append((j, d))
                            continue
                        }
                        if outcome.kind == .transient, failOver(j, d, because: [outcome.code?.rawValue, outcome.message].compactMap { $0 }.joined(separator: " ")) {
                            continue
                        }
                        apply(outcome, transport: transport.name, to: &jobs[j], delivery: d)
                    }
                    if !unstarted.isEmpty { remaining = (unstarted + remaining)[...] }
                }
            }
            if let segment {
                for j in jobs.indices { jobs[j].journal = segment }
            }
        }
    }

    private static func envelope(_ job: Job, _ delivery: Delivery) -> Envelope? {
        guard let message = delivery.message else { return nil }
        return Envelope(id: delivery.id, batch: job.batch, row: job.row.row, channel: delivery.channel, account: delivery.account,
                        address: delivery.address, recipient: job.row.recipient, message: message, mail: job.row.mail)
    }

    private static func pause(_ job: inout Job, delivery d: Int, reason: String, control: SendControl?) {
        hold(&job, delivery: d, until: control?.clock.now().addingTimeInterval(300), code: .transportPaused, reason)
    }

    /// Holds a delivery back: `deferred` until `date`, to the spool without counting an attempt.
    private static func hold(_ job: inout Job, delivery d: Int, until date: Date?, code: FailureCode, _ reason: String) {
        job.deliveries[d].status = .deferred
        job.deliveries[d].deferUntil = date
        job.deliveries[d].error = job.error(.send, StageFailure(.deferred, code: code, reason))
    }

    private static func apply(_ outcome: DeliveryOutcome, transport: String, to job: inout Job, delivery d: Int) {
        job.deliveries[d].latency = outcome.latency ?? .zero
        job.deliveries[d].transport = transport
        job.deliveries[d].providerID = outcome.providerID
        job.deliveries[d].isHardBounce = outcome.isHardBounce
        job.deliveries[d].storesInInbox = outcome.storesInInbox
        job.deliveries[d].retryAfter = outcome.retryAfter
        job.deliveries[d].attempt = (job.deliveries[d].spooled?.attempts ?? 0) + 1
        switch outcome.kind {
        case .sent:
            job.deliveries[d].status = .sent
        case .transient, .permanent:
            let status: DeliveryStatus = outcome.kind == .transient ? .deferred : .failed
            let code = outcome.code ?? (outcome.kind == .transient ? .transient : .permanent)
            job.deliveries[d].status = status
            job.deliveries[d].error = job.error(.send, StageFailure(status, code: code, outcome.message ?? code.rawValue))
        }
    }
}
