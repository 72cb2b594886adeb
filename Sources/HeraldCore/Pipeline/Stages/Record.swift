import Foundation
import Synchronization

extension PipelineStage {
    /// **record**: spools what is deferred (or buries it in `spool/dead/` when out of attempts
    /// or time), appends one log line per outcome (row order kept), then writes the ledger in
    /// one transaction; finally drops spool files of messages that are done and the chunk's
    /// journal segment. Spool files go first so nothing deferred is lost; the log goes before
    /// the ledger so a crash between them re-sends rather than loses.
    ///
    /// The writing runs in the background while the next chunks are prepared and sent, two chunks
    /// deep (see `RecordWriter`), and the end of a batch waits for all.
    public static func record(to ledger: any Ledger, log: any EventLog, masking: RecipientMasking,
                              clock: @escaping @Sendable () -> Date) -> PipelineStage {
        var configuration = Configuration()
        configuration.recipientMasking = masking
        return record(to: ledger, log: log, spool: nil, configuration: configuration, clock: clock)
    }

    /// `record` with a spool and the retry policy of `configuration`. `jitter` gives the random
    /// part of each backoff, from 0 to 1 (tests pass a constant).
    /// 站内信 sent through the inbox transport are stored by the ledger in its transaction;
    /// a ledger without a 站内信 store fails the run rather than lose them.
    public static func record(to ledger: any Ledger, log: any EventLog, spool: (any Spool)?, configuration: Configuration,
                              preferences: Preferences? = nil, counters: (any RecipientCounters)? = nil,
                              clock: @escaping @Sendable () -> Date,
                              jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }) -> PipelineStage {
        let writer = RecordWriter(ledger: ledger, log: log, counters: counters)
        let decide = RecordDecisions(configuration: configuration, preferences: preferences, spooling: spool != nil, jitter: jitter)
        let duplicates = DuplicateTally()
        return PipelineStage(.record, chunk: { jobs in
            let now = clock()
            var work = RecordWork()
            duplicates.count(jobs)
            work.events.reserveCapacity(jobs.count)
            work.entries.reserveCapacity(jobs.count)
            for j in jobs.indices {
                let job = jobs[j]
                if let segment = job.journal, !work.segments.contains(where: { $0 === segment }) { work.segments.append(segment) }
                if job.failure != nil {
                    decide.rowFailure(job, now: now, into: &work)
                    continue
                }
                for d in job.deliveries.indices {
                    var delivery = job.deliveries[d]
                    decide.maskError(&delivery, of: job)
                    if let at = delivery.countedAt { work.counts.append((delivery.channel, delivery.address, at)) }
                    guard delivery.status != nil, delivery.status != .duplicate else { continue }
                    let nextAttempt = decide.retry(&delivery, of: job, now: now, into: &work)
                    if let bounce = decide.hardBounce(delivery, of: job) { work.bounces.append(bounce) }
                    if let site = decide.siteMessage(delivery, of: job, now: now) { work.site.append(site) }
                    let (event, entry) = decide.outcome(delivery, of: job, nextAttempt: nextAttempt, now: now)
                    work.events.append(event)
                    work.entries.append(entry)
                    jobs[j].deliveries[d] = delivery
                }
            }
            try await writer.submit(work, spool: spool, now: now)
        }, finish: {
            try await writer.drain()
            // Duplicates are never silent: one line per batch says how many there were. It is a
            // batch note, so no message's final status in the reports changes.
            let notes = duplicates.take().map { RecordDecisions.batchNote($0, at: clock()) }
            if !notes.isEmpty { try log.append(notes) }
        })
    }
}

/// What the record stage hands to its background writer for one chunk.
struct RecordWork: Sendable {
    var events: [LogEvent] = []
    var entries: [LedgerEntry] = []
    var put: [SpoolEntry] = []
    var bury: [SpoolEntry] = []
    var remove: [String] = []
    var segments: [JournalSegment] = []
    var bounces: [(address: String, tenant: String, preferences: Preferences)] = []
    var counts: [(channel: Channel, address: String, at: Date)] = []
    var site: [SiteDelivery] = []
}

/// Writes spool files, log events and ledger entries on background tasks, two chunks deep: a
/// chunk's first half (spool files, then its log lines) runs while the previous chunk's second
/// half (ledger, counters, spool removals, journal segment) is still being written, so a shared
/// database's round trip overlaps the next chunk's log. Within a chunk the order stays: spool
/// before log before ledger. `submit` returns once chunk N's write has started and chunk N-2's is
/// done, which is when the queue may forget chunk N-2.
final class RecordWriter: Sendable {
    /// The latest chunk's first half, and the second halves of the latest two chunks (newest last).
    private struct Writes {
        var firstHalf: Task<Void, Error>?
        var secondHalves: [Task<Void, Error>] = []
    }

    private let ledger: any Ledger
    private let log: any EventLog
    private let counters: (any RecipientCounters)?
    private let writes = Mutex(Writes())

    init(ledger: any Ledger, log: any EventLog, counters: (any RecipientCounters)?) {
        self.ledger = ledger
        self.log = log
        self.counters = counters
    }

    /// Waits for the previous chunk's first half and the chunk before it's second half, then
    /// starts this chunk's write.
    func submit(_ work: RecordWork, spool: (any Spool)?, now: Date) async throws {
        let (previous, older) = writes.withLock { ($0.firstHalf, $0.secondHalves.count > 1 ? $0.secondHalves.first : nil) }
        try await previous?.value
        try await older?.value
        let ledger = ledger, log = log, counters = counters
        let first = Task.detached {
            if let spool {
                for entry in work.put { try await spool.put(entry) }
                for entry in work.bury { try await spool.bury(entry) }
            }
            try log.append(work.events)
        }
        let before = writes.withLock { $0.secondHalves.last }
        let second = Task.detached {
            try await first.value
            try await before?.value
            try await ledger.record(work.entries, siteMessages: work.site)
            try await counters?.record(work.counts)
            if let spool {
                for id in work.remove { try await spool.remove(id) }
            }
            for (address, tenant, preferences) in work.bounces {
                try await preferences.suppress(address, channel: .mail, reason: "bounce", tenant: tenant, since: now)
            }
            for segment in work.segments { segment.remove() }
        }
        writes.withLock { writes in
            writes.firstHalf = first
            writes.secondHalves = (writes.secondHalves + [second]).suffix(2)
        }
    }

    /// Waits until everything submitted is written; rethrows a write's failure.
    func drain() async throws {
        let tasks = writes.withLock { writes -> [Task<Void, Error>] in
            defer { writes = Writes() }
            return [writes.firstHalf].compactMap { $0 } + writes.secondHalves
        }
        var failure: (any Error)?
        for task in tasks {
            do { try await task.value } catch { failure = failure ?? error }
        }
        if let failure { throw failure }
    }
}

/// Duplicates per batch, counted by the record stage and written as one log line per batch.
final class DuplicateTally: Sendable {
    struct Tally {
        var batch: BatchContext
        var messages = 0
        var rows = 0
        /// Duplicates per worker that sent them, where the ledger says (PostgreSQL mode).
        var senders: [String: Int] = [:]
    }

    private let tallies = Mutex<[Tally]>([])

    /// Counts the duplicate deliveries of a chunk.
    func count(_ jobs: [Job]) {
        for j in jobs.indices {
            let messages = jobs[j].deliveries.count { $0.status == .duplicate }
            guard messages > 0 else { continue }
            let job = jobs[j]
            tallies.withLock { tallies in
                let index = tallies.firstIndex { $0.batch.id == job.batch.id } ?? {
                    tallies.append(Tally(batch: job.batch))
                    return tallies.count - 1
                }()
                tallies[index].messages += messages
                tallies[index].rows += 1
                for delivery in job.deliveries where delivery.status == .duplicate {
                    if let worker = delivery.sentBy { tallies[index].senders[worker, default: 0] += 1 }
                }
            }
        }
    }

    /// The tallies so far, cleared.
    func take() -> [Tally] {
        tallies.withLock { tallies in
            defer { tallies = [] }
            return tallies
        }
    }
}

/// The decisions the record stage makes for each outcome, one method each: what a row that
/// failed before its channels were known records, whether a message goes to the spool (or dies),
/// whether a failure is a hard bounce to suppress, which 站内信 to store, and the log line and
/// ledger row of an outcome.
struct RecordDecisions: Sendable {
    let configuration: Configuration
    let preferences: Preferences?
    /// Whether deferred messages are spooled (false in tests of the chain without a spool).
    let spooling: Bool
    let jitter: @Sendable () -> Double

    var masking: RecipientMasking { configuration.recipientMasking }

    /// A row that failed before its channels were known: one log line and ledger row under the
    /// row's own id (channel code `0000`).
    func rowFailure(_ job: Job, now: Date, into work: inout RecordWork) {
        guard var failure = job.failure else { return }
        failure.reason = masking.scrub(failure.reason, addresses: job.row.addresses)
        let id = job.batch.messageID(row: job.row.row, channel: "row")
        let status = job.failureStatus ?? .invalid
        work.events.append(LogEvent(timestamp: now, messageID: id, batch: job.batch.id, file: job.batch.file,
                                    row: job.row.row, line: job.row.line, template: job.row.template,
                                    category: job.template?.category, status: status, error: failure,
                                    extra: job.extraParameters))
        work.events[work.events.count - 1].traceUser = job.row.recipient.userID
        work.events[work.events.count - 1].traceAddress = job.row.addresses.first?.address
        work.entries.append(LedgerEntry(id: id, batch: job.batch.id, row: job.row.row, channel: nil, template: job.row.template,
                                        status: status, errorCode: failure.code, errorMessage: failure.reason,
                                        updatedAt: now, file: job.batch.file))
    }

    /// Masks the row's addresses inside the delivery's error message (when masking is on).
    func maskError(_ delivery: inout Delivery, of job: Job) {
        guard masking == .masked, delivery.error != nil || !delivery.failover.isEmpty else { return }
        let addresses = job.row.addresses + [(delivery.address, delivery.channel)]
        if let reason = delivery.error?.reason { delivery.error?.reason = masking.scrub(reason, addresses: addresses) }
        delivery.failover = delivery.failover.map { masking.scrub($0, addresses: addresses) }
    }

    /// The spool's part: a deferred message is put in the spool with its next attempt, or buried
    /// in `dead/` (and becomes `failed`) when out of attempts or time; a spooled message that is
    /// done leaves the spool, or is buried when it failed for good. Returns the next attempt.
    func retry(_ delivery: inout Delivery, of job: Job, now: Date, into work: inout RecordWork) -> Date? {
        guard spooling, let message = delivery.message, let status = delivery.status else { return nil }
        if status == .scheduled {
            // Waits for its time; age and attempts count from then.
            guard let due = delivery.deferUntil else { return nil }
            var entry = SpoolEntry(job: job, delivery: delivery, message: message, attempts: 0, firstSeen: due, nextAttempt: due)
            entry.kind = delivery.escalation == nil ? .scheduled : .escalation
            entry.escalation = delivery.escalation
            work.put.append(entry)
            return due
        }
        if status == .deferred {
            let policy = configuration.retryPolicy(channel: delivery.channel, account: delivery.account)
            // Held back by a cap, quiet hours or a rate (deferUntil set) is not a failed attempt.
            let failedSend = delivery.deferUntil == nil
            let attempts = (delivery.spooled?.attempts ?? 0) + (failedSend ? 1 : 0)
            let firstSeen = delivery.spooled?.firstSeen ?? now
            let backoff = max(policy.backoff(afterAttempt: attempts, jitter: jitter()).seconds, delivery.retryAfter?.seconds ?? 0)
            let due = delivery.deferUntil ?? now.addingTimeInterval(backoff)
            var entry = SpoolEntry(job: job, delivery: delivery, message: message, attempts: attempts, firstSeen: firstSeen, nextAttempt: due)
            let exhausted = failedSend && attempts >= policy.maxAttempts
            let expired = now.timeIntervalSince(firstSeen) >= policy.maxAge.seconds
            guard exhausted || expired else {
                work.put.append(entry)
                return due
            }
            delivery.status = .failed
            entry.nextAttempt = now
            let why = exhausted ? "\(attempts) attempts" : "\(Int(policy.maxAge.seconds / 3600))h"
            delivery.error?.reason += " (dead letter: gave up after \(why); `herald spool retry \(delivery.id.value)` brings it back)"
            delivery.error?.stage = .record
            work.bury.append(entry)
        } else if delivery.spooled != nil {
            if status == .failed {
                work.bury.append(SpoolEntry(job: job, delivery: delivery, message: message, attempts: delivery.attempt,
                                            firstSeen: delivery.spooled?.firstSeen ?? now, nextAttempt: now))
            } else {
                work.remove.append(delivery.id.value)
            }
        }
        return nil
    }

    /// The address to add to the suppression list, when a mail failed for good because the
    /// mailbox does not exist (and `preferences.suppress_bounces` is on).
    func hardBounce(_ delivery: Delivery, of job: Job) -> (address: String, tenant: String, preferences: Preferences)? {
        guard delivery.status == .failed, delivery.channel == .mail, configuration.suppressBounces, let preferences,
              delivery.isHardBounce else { return nil }
        return (delivery.address, job.row.recipient.tenantID ?? "0", preferences)
    }

    /// The 站内信 to store with the ledger row, when the inbox transport sent a site message.
    func siteMessage(_ delivery: Delivery, of job: Job, now: Date) -> SiteDelivery? {
        guard delivery.status == .sent, delivery.storesInInbox,
              case let .site(site)? = delivery.message?.content else { return nil }
        return SiteDelivery(messageID: delivery.id, tenantID: job.row.recipient.tenantID ?? "0", userID: delivery.address,
                            userType: job.row.recipient.userType,
                            template: job.template?.code ?? delivery.message?.template ?? "",
                            nickname: site.nickname, content: site.content, type: site.type,
                            parameters: job.row.parameters, createdAt: now)
    }

    /// The log line and the ledger row of one outcome.
    func outcome(_ delivery: Delivery, of job: Job, nextAttempt: Date?, now: Date) -> (LogEvent, LedgerEntry) {
        let status = delivery.status ?? .invalid
        let template = job.template?.code ?? delivery.message?.template
        var event = LogEvent(
            timestamp: now, messageID: delivery.id, batch: job.batch.id, file: job.batch.file, row: job.row.row,
            line: job.row.line, template: template, category: job.template?.category ?? delivery.message?.category,
            channel: delivery.channel, account: delivery.account.isEmpty ? nil : delivery.account, transport: delivery.transport,
            recipient: delivery.address.isEmpty ? nil : masking.apply(delivery.address, channel: delivery.channel),
            status: status, attempt: delivery.attempt, latencyMilliseconds: delivery.latency.map { $0.seconds * 1000 },
            providerID: delivery.providerID, error: delivery.error, extra: job.extraParameters, nextAttempt: nextAttempt)
        event.fingerprint = delivery.fingerprint
        event.traceAddress = delivery.address.isEmpty ? nil : delivery.address
        event.traceUser = job.row.recipient.userID
        if !delivery.failover.isEmpty { event.extra["failover"] = delivery.failover.joined(separator: "; ") }
        event.escalatedFrom = delivery.escalation?.firstMessages.first
        event.digest = delivery.digestMessage
        let entry = LedgerEntry(id: delivery.id, batch: job.batch.id, row: job.row.row, channel: delivery.channel,
                                template: template, status: status, attempt: delivery.attempt, providerID: delivery.providerID,
                                errorCode: delivery.error?.code, errorMessage: delivery.error?.reason, updatedAt: now,
                                fingerprint: delivery.fingerprint, file: job.batch.file, tenant: job.row.recipient.tenantID ?? "0",
                                recipient: delivery.address.isEmpty ? nil : LedgerEntry.recipientDigest(of: delivery.address, channel: delivery.channel))
        return (event, entry)
    }

    /// The batch line that counts a batch's duplicates.
    static func batchNote(_ tally: DuplicateTally.Tally, at date: Date) -> LogEvent {
        var reason = "\(tally.messages) message\(tally.messages == 1 ? "" : "s") of \(tally.rows) row\(tally.rows == 1 ? "" : "s") "
        reason += "were already handed over by an earlier run of this batch"
        if !tally.senders.isEmpty {
            let senders: [String] = tally.senders.keys.sorted().map { worker in "worker \(worker): \(tally.senders[worker] ?? 0)" }
            reason += " (sent by \(senders.joined(separator: ", ")))"
        }
        reason += "; they were not sent again"
        var event = LogEvent(timestamp: date, messageID: tally.batch.messageID(row: 0, channel: "batch"), batch: tally.batch.id,
                             file: tally.batch.file, status: .duplicate,
                             error: PipelineError(stage: .load, file: tally.batch.file, code: .duplicate, reason: reason))
        event.kind = .batch
        event.count = tally.messages
        if !tally.senders.isEmpty { event.extra["sent_by"] = tally.senders.keys.sorted().joined(separator: ",") }
        return event
    }
}
