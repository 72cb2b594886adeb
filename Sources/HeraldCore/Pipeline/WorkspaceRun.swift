import Foundation

/// `herald run`, `herald watch` and `herald send` over a workspace: builds the stage chain from
/// the workspace's configuration and the given transports, ledger and log, and owns the
/// spool, the send journal and the run's limits.
public struct WorkspaceRun: Sendable {
    /// The workspace run.
    public var workspace: Workspace
    /// The transport of every account, channel and app.
    public var transports: TransportSet
    /// The ledger consulted before sending and written after.
    public var ledger: any Ledger
    /// The JSON-lines log.
    public var log: any EventLog
    /// The clock of waits, backoff and quiet hours.
    public var timeSource: any HeraldClock
    /// Per-recipient counters (the workspace database in production).
    public var counters: any RecipientCounters
    /// Where 站内信 sent through the inbox transport are stored (HeraldInbox's store in production).
    public var siteMessages: (any SiteMessageStore)?
    /// Preferences and suppressions for this run.
    public var preferences: Preferences
    /// The spool, or nil to record deferred messages without spooling (tests of the chain).
    public var spool: (any Spool)?
    /// The send journal, or nil.
    public var journal: SendJournal?
    /// Token buckets and the burst guard, shared by every batch of this run.
    public let control: SendControl
    /// The receipt parser of each SMS provider transport (HeraldChannels' `ProviderReceipts.parsers`);
    /// receipt files of channels without one are rejected with the reason.
    public var receiptParsers: [TransportKind: any ReceiptParser] = [:]
    /// The random part of retry backoff, 0…1 (a constant in tests, so retry times are exact).
    public var jitter: @Sendable () -> Double = { Double.random(in: 0...1) }
    /// Checked between chunks: when it says stop, the file in hand stays in the drop folder.
    public var shouldStop: @Sendable () -> Bool = { false }
    /// The work queue shared with other workers (PostgreSQL), or nil: each batch runs straight
    /// through the chain in this process. With a queue, a batch file is claimed and queued, and
    /// every worker's run sends what is queued.
    public var queue: (any WorkQueue)?
    /// Sends recorded for every worker as they happen (PostgreSQL), or nil: a retaken chunk
    /// records what its first worker sent and skips it.
    public var progress: (any SendProgressStore)?
    /// Receipt pushes kept as rows by `herald serve` (PostgreSQL), ingested with the receipt files.
    public var receiptQueue: (any ReceiptQueue)?
    /// This worker's name and lease on queued chunks.
    public var worker = WorkerSettings()
    /// Files of the drop folder known to be whole because they were renamed into it (the watcher's
    /// file-system events say so): taken at once, without waiting for the settle time.
    public var arrivedComplete: Set<String> = []
    /// Where rows of digest templates collect until sent (`outbox/spool/digests/` unless given).
    public var digests: (any DigestStore)?
    /// Publishes a `NAME.notice.json` file dropped in the drop folder and says what it did; nil
    /// treats such files like any other JSON file.
    public var noticePublisher: (@Sendable (URL) async throws -> String)?
    /// The latest mail message sent to an address (the trace index), for bounces that name
    /// neither a VERP address nor a Message-ID of Herald's; nil: such bounces stay unmatched.
    public var recipientLookup: (@Sendable (String) throws -> MessageID?)?

    /// The wall clock as a function (log timestamps, settle times).
    public var clock: @Sendable () -> Date {
        let source = timeSource
        return { source.now() }
    }

    /// Creates a run. The spool and journal live under the workspace unless given.
    public init(workspace: Workspace, transports: TransportSet, ledger: any Ledger, log: any EventLog,
                clock: any HeraldClock = SystemClock(), counters: (any RecipientCounters)? = nil,
                preferences: Preferences? = nil, spool: (any Spool)? = nil, journal: SendJournal? = nil) {
        self.workspace = workspace
        self.transports = transports
        self.ledger = ledger
        self.log = log
        self.timeSource = clock
        self.counters = counters ?? MemoryRecipientCounters()
        self.preferences = preferences ?? Preferences()
        self.spool = spool ?? FileSpool(root: workspace.root)
        self.journal = journal ?? SendJournal(root: workspace.root)
        self.digests = FileDigestStore(root: workspace.root)
        let configuration = workspace.configuration
        control = SendControl(clock: clock, burstLimit: configuration.burstFailures, timeZone: configuration.timeZone) { channel, account in
            configuration.rate(channel: channel, account: account)
        }
        control.dailyQuota = { channel, account in
            channel == .mail ? configuration.mailAccounts[account]?.dailyQuota : nil
        }
    }

    /// The stage chain; a dry run validates and renders but sends and records nothing.
    public func pipeline(dryRun: Bool = false) -> Pipeline {
        let renderer = workspace.renderer
        let catalog = workspace.catalog
        let attachments = AttachmentPolicy(workspace: workspace)
        if dryRun {
            return Pipeline([
                .load(from: catalog, ledger: ledger),
                .validate(using: renderer, timeZone: workspace.configuration.timeZone),
                .render(with: renderer, attachments: attachments, oneClick: workspace.configuration.unsubscribe),
            ])
        }
        let limiter = RateLimiter(configuration: workspace.configuration, preferences: preferences, counters: counters,
                                  clock: timeSource)
        limiter.digests = digests
        return Pipeline(
            preparation: [
                .load(from: catalog, ledger: ledger),
                .validate(using: renderer, timeZone: workspace.configuration.timeZone),
                .render(with: renderer, attachments: attachments, oneClick: workspace.configuration.unsubscribe),
                .rateLimit(limiter),
            ],
            delivery: [
                .send(through: transports, control: control, journal: journal),
                .record(to: ledger, log: log, spool: spool, configuration: workspace.configuration, preferences: preferences,
                        counters: counters, clock: clock, jitter: jitter),
            ])
    }

    /// Puts what the send journal of an interrupted run says was sent into the ledger and the
    /// log. Returns (recovered sends, messages that were in flight without an outcome).
    public func recover() async throws -> (recovered: Int, inFlight: Int) {
        guard let journal else { return (0, 0) }
        let (segments, sends, inFlight) = try journal.pending()
        guard !segments.isEmpty else { return (0, 0) }
        let known = try await ledger.statuses(of: sends.map(\.id))
        let now = clock()
        let fresh = sends.filter { known[$0.id]?.wasSent != true }
        try log.append(fresh.map { $0.logEvent(at: now, extra: ["recovered": "send journal"]) })
        try log.flush()
        try await ledger.record(fresh.map { $0.ledgerEntry(at: now) })
        for send in sends { try await spool?.remove(send.id.value) }
        for segment in segments { unlink(segment.path) }
        return (fresh.count, inFlight.count)
    }

    /// Sends every spooled message whose time has come, verification first, oldest first,
    /// through the same rate-limit, send and record stages as new rows.
    public func drainSpool(progress: (@Sendable (BatchProgress) -> Void)? = nil) async throws -> RunSummary {
        guard let spool else { return RunSummary() }
        let due = try await spool.due(at: clock())
        guard !due.isEmpty else { return RunSummary() }
        let pipeline = pipeline()
        var summary = RunSummary()
        for start in stride(from: 0, to: due.count, by: workspace.configuration.chunkSize) {
            var jobs = due[start..<min(due.count, start + workspace.configuration.chunkSize)].map(Self.job(for:))
            try await skipUnneededEscalations(&jobs)
            try await pipeline.run(&jobs)
            summary.add(jobs)
            progress?(BatchProgress(file: "spool", rows: min(due.count, start + workspace.configuration.chunkSize),
                                    fraction: Double(start) / Double(due.count)))
        }
        try await pipeline.finish()
        try log.flush()
        summary.spooledRetried = due.count
        return summary
    }

    /// Sends every digest whose window closed (or that filled up): one message per channel to the
    /// last row's addresses, with `{digest_count}` and `{digest_items}`, through the whole chain.
    /// Its id comes from the digest, so a digest sent before a crash is a duplicate, not sent twice.
    public func drainDigests() async throws -> RunSummary {
        guard let digests else { return RunSummary() }
        let due = try await digests.due(at: clock())
        guard !due.isEmpty else { return RunSummary() }
        let pipeline = pipeline()
        var summary = RunSummary()
        for digest in due {
            guard let rule = workspace.catalog[digest.template]?.digest, let last = digest.items.last else {
                summary.notes.append("digest \(digest.id) of template '\(digest.template)': the template has no digest: any more; kept")
                continue
            }
            var row = last.row
            row.row = 1
            row.line = nil
            row.sendAt = nil
            row.parameters["digest_count"] = String(digest.items.count)
            row.parameters["digest_items"] = digest.items.map(\.text).joined(separator: rule.separator)
            var job = Job(batch: BatchContext(id: digest.id, file: last.file), row: row)
            job.isDigest = true
            var jobs = [job]
            try await pipeline.run(&jobs)
            summary.add(jobs)
            try await digests.remove(digest.id)
        }
        try await pipeline.finish()
        try log.flush()
        summary.notes.append("digests: \(due.count) sent")
        return summary
    }

    /// Escalations whose first messages reached their `unless` (read, delivered, sent) in time end
    /// `skipped` (`escalation_not_needed`) instead of being sent.
    func skipUnneededEscalations(_ jobs: inout [Job]) async throws {
        let checks = jobs.flatMap { $0.deliveries.compactMap(\.escalation) }
        guard !checks.isEmpty else { return }
        let firstIDs = Array(Set(checks.flatMap(\.firstMessages))).map(MessageID.init)
        let statuses = try await ledger.statuses(of: firstIDs)
        let read = checks.contains { $0.unless == .read } ? try await siteMessages?.readStates(of: firstIDs) ?? [:] : [:]
        for j in jobs.indices {
            for d in jobs[j].deliveries.indices {
                guard let check = jobs[j].deliveries[d].escalation, jobs[j].deliveries[d].isPending else { continue }
                let met = check.firstMessages.map(MessageID.init).first { id in
                    switch check.unless {
                    case .read: read[id] == true
                    case .delivered: statuses[id] == .delivered
                    case .sent: statuses[id]?.wasSent == true
                    }
                }
                guard let met else { continue }
                jobs[j].deliveries[d].status = .skipped
                jobs[j].deliveries[d].error = jobs[j].error(.load, StageFailure(.skipped, code: .escalationNotNeeded,
                    "message \(met.value) was \(check.unless.rawValue) in time; the \(jobs[j].deliveries[d].channel.rawValue) escalation is not needed"))
            }
        }
    }

    static func job(for entry: SpoolEntry) -> Job {
        var row = RecipientRow(row: entry.row, line: entry.line, template: entry.message.template, recipient: entry.recipient)
        row.mail = entry.mail
        var job = Job(batch: BatchContext(id: entry.batch, file: entry.file), row: row)
        var delivery = Delivery(id: MessageID(entry.id), channel: entry.channel, address: entry.address)
        delivery.account = entry.account
        // A retry starts again at the template's first account.
        if case let .mail(mail) = entry.message.content, mail.fallbackAccounts != nil { delivery.account = mail.account }
        delivery.message = entry.message
        delivery.spooled = (entry.attempts, entry.firstSeen)
        delivery.escalation = entry.escalation
        job.deliveries = [delivery]
        return job
    }

    /// What a run does, in order: what the journal of an interrupted run says was sent, due spool
    /// entries, waiting receipt files, then every complete batch in the drop folder in category
    /// order (verification first) and name order. Each file read through moves to processed/
    /// (not in a dry run); an unreadable one moves to rejected/ with its reason, and the run goes
    /// on to the next file.
    public func runDropFolder(dryRun: Bool = false,
                              progress: (@Sendable (BatchProgress) -> Void)? = nil) async throws -> RunSummary {
        var summary = RunSummary()
        if !dryRun {
            let (recovered, inFlight) = try await recover()
            summary.recovered = recovered
            summary.inFlightAtCrash = inFlight
            summary.merge(try await drainSpool(progress: progress))
            try await ingestReceipts(into: &summary)
            try await ingestBounces(into: &summary)
        }
        try await runBatches(dryRun: dryRun, progress: progress, into: &summary)
        if !dryRun, queue != nil { summary.merge(try await drainQueue(progress: progress)) }
        if !dryRun { summary.merge(try await drainDigests()) }
        summary.pausedTransports = control.pausedTransports
        return summary
    }

    /// Ingests settled receipt files of `recipients/inbox/receipts/<channel>/`; a file that
    /// cannot be read moves to rejected/ with its reason.
    func ingestReceipts(into summary: inout RunSummary) async throws {
        let receipts = ReceiptFiles(root: workspace.root, configuration: workspace.configuration, parsers: receiptParsers)
        let ingest = ReceiptIngest(ledger: ledger, log: log, clock: clock)
        for (channel, url) in receipts.waiting(settle: workspace.configuration.settle, now: clock()) {
            do {
                let report = try await receipts.ingest(url, channel: channel, with: ingest, move: true)
                summary.notes.append("receipts/\(channel)/\(url.lastPathComponent): \(report.delivered) delivered, "
                    + "\(report.undelivered) undelivered, \(report.duplicates) duplicate, \(report.unmatched.count) unmatched")
            } catch let rejection as BatchRejection {
                try reject(url, as: "receipts/\(channel)/\(url.lastPathComponent)", because: rejection, in: DropFolder(root: workspace.root, settle: .zero),
                           into: &summary)
            }
        }
        guard let receiptQueue else { return }
        let parsers = receipts
        var reports: [String: ReceiptReport] = [:]
        var pushes: [String: Int] = [:]
        _ = try await receiptQueue.take(limit: 1000) { channel, body in
            pushes[channel, default: 0] += 1
            do {
                let report = try await parsers.ingest(body, channel: channel, with: ingest)
                reports[channel, default: ReceiptReport()].merge(report)
            } catch let rejection as BatchRejection {
                // serve checked the push before keeping it; one that fails now is kept as a file.
                let name = "\(Int(clock().timeIntervalSince1970 * 1000))-queued.json"
                let file = WorkspacePaths(root: workspace.root).receiptsWaiting(channel).appendingPathComponent(name)
                try DurableFile.write(body, to: file)
                summary.rejectedFiles.append(("receipts/\(channel) (queued push, kept as \(name))", rejection.description))
            }
        }
        for (channel, report) in reports.sorted(by: { $0.key < $1.key }) {
            summary.notes.append("receipts/\(channel): \(pushes[channel] ?? 0) pushed, \(report.delivered) delivered, "
                + "\(report.undelivered) undelivered, \(report.duplicates) duplicate, \(report.unmatched.count) unmatched")
        }
    }

    /// What applies bounces and complaints to this run's ledger, log and preferences.
    public func bounceIngest() -> BounceIngest {
        let lookup = recipientLookup
        return BounceIngest(ledger: ledger, log: log, preferences: preferences, masking: workspace.configuration.recipientMasking,
                            recipientLookup: { address in try lookup?(address) }, clock: clock)
    }

    /// Ingests settled bounce files and Maildirs of `recipients/inbox/bounces/`; a file that
    /// cannot be read moves to rejected/ with its reason.
    func ingestBounces(into summary: inout RunSummary) async throws {
        let files = BounceFiles(root: workspace.root)
        let waiting = files.waiting(settle: workspace.configuration.settle, now: clock())
        guard !waiting.isEmpty else { return }
        let ingest = bounceIngest()
        var total = BounceSummary()
        for url in waiting {
            do {
                let report = try await files.ingest(url, with: ingest, move: true)
                total.merge(report)
                summary.notes.append("bounces/\(url.lastPathComponent): \(report.description)")
            } catch let rejection as BatchRejection {
                try reject(url, as: "bounces/\(url.lastPathComponent)", because: rejection, in: DropFolder(root: workspace.root, settle: .zero),
                           into: &summary)
            }
        }
        summary.bounces.merge(total)
        if total.unmatched > 0 {
            summary.notes.append("\(total.unmatched) bounce message(s) kept in recipients/unmatched-bounces/: "
                + total.unmatchedReasons.prefix(3).joined(separator: "; "))
        }
    }

    /// Moves `url` to rejected/ with its `.error.txt`, and counts it in `summary` under `name`
    /// with where the explanation is (the file may have been renamed `NAME.1.EXT` there).
    func reject(_ url: URL, as name: String, because rejection: BatchRejection, in dropFolder: DropFolder,
                into summary: inout RunSummary) throws {
        summary.rejectedFiles.append((name, rejection.description))
        let moved = try dropFolder.reject(url, because: rejection, at: clock(), timeZone: workspace.configuration.timeZone)
        summary.rejectedExplanations[name] = "recipients/rejected/\(moved.lastPathComponent).error.txt"
    }

    /// Every complete file of the drop folder, most urgent first: announcements are published,
    /// batches run through the chain.
    func runBatches(dryRun: Bool, progress: (@Sendable (BatchProgress) -> Void)?, into summary: inout RunSummary) async throws {
        let dropFolder = DropFolder(root: workspace.root, settle: workspace.configuration.settle)
        let (ready, settling) = try dropFolder.scan(now: clock(), complete: arrivedComplete)
        summary.settlingFiles = settling
        summary.notes += DropFolder.refused(in: dropFolder.folder)
        let runner = batchRunner(dryRun: dryRun)
        for url in prioritized(ready) {
            if shouldStop() { break }
            if let noticePublisher, url.lastPathComponent.hasSuffix(".notice.json") {
                if dryRun { continue }
                do {
                    summary.notes.append("\(url.lastPathComponent): \(try await noticePublisher(url))")
                    try dropFolder.markProcessed(url)
                } catch let rejection as BatchRejection {
                    try reject(url, as: url.lastPathComponent, because: rejection, in: dropFolder, into: &summary)
                }
                continue
            }
            if let queue, !dryRun {
                try await enqueue(url, to: queue, in: dropFolder, into: &summary)
                continue
            }
            // While a batch that is not itself urgent runs, verification files that arrive are
            // sent between its chunks.
            var batchRunner = runner
            let urgent = UrgentFiles()
            if !dryRun, priority(of: url) > TemplateCategory.verification.priority {
                let run = self, current = url.lastPathComponent
                batchRunner.betweenChunks = { try await run.sendUrgentFiles(besides: current, in: dropFolder, into: urgent) }
            }
            let finished = try await runBatch(url, with: batchRunner, in: dropFolder, dryRun: dryRun, progress: progress, into: &summary)
            summary.merge(urgent.summary)
            guard finished else { break }
        }
    }

    /// One batch file through the chain, then to processed/ (or rejected/ with what was handled).
    /// Returns false when the run was asked to stop in the middle of it.
    func runBatch(_ url: URL, with runner: BatchRunner, in dropFolder: DropFolder, dryRun: Bool,
                  progress: (@Sendable (BatchProgress) -> Void)?, into summary: inout RunSummary) async throws -> Bool {
        var handled: RunSummary?
        do {
            let batch = try await runner.run(url, progress: progress)
            handled = batch
            try log.flush()
            summary.merge(batch)
            if batch.stopped {
                summary.interruptedFiles.append(url.lastPathComponent)
                return false
            }
            // Said done only once it is in processed/ (an unwritable processed/ rejects it instead).
            if !dryRun { try dropFolder.markProcessed(url) }
            summary.processedFiles.append(url.lastPathComponent)
        } catch var rejection as BatchRejection {
            try log.flush()
            // Rows handled before the problem (or the whole file, when only the move to
            // processed/ failed) are counted and named, never reported as "nothing sent".
            if let handled {
                rejection.handled = handled
            } else if let partial = rejection.handled {
                summary.merge(partial)
            }
            if dryRun {
                summary.rejectedFiles.append((url.lastPathComponent, rejection.description))
            } else {
                try reject(url, as: url.lastPathComponent, because: rejection, in: dropFolder, into: &summary)
            }
        }
        return true
    }

    /// Claims a batch file for this worker and queues its rows for every worker, then moves it to
    /// processed/. A file whose identity another worker (or an earlier run) took is counted as
    /// duplicates, logged with one batch line, and moved to processed/ too. A file unreadable
    /// part-way is rejected whole: nothing of it is queued.
    func enqueue(_ url: URL, to queue: any WorkQueue, in dropFolder: DropFolder, into summary: inout RunSummary) async throws {
        let name = url.lastPathComponent
        do {
            let ledger = ledger
            let (reader, batch) = try await BatchRunner.open(url, catalog: workspace.catalog, ledgerKnows: { try await ledger.knows(batch: $0) })
            let id = batch.id
            let chunkSize = workspace.configuration.chunkSize, catalog = workspace.catalog
            let filePriority = priority(of: url)
            // The file is read a few chunks ahead on a thread of its own while the queue writes.
            let ahead = ChunkReadAhead { () throws -> QueuedRecordChunk? in
                var records: [BatchRecord] = []
                records.reserveCapacity(chunkSize)
                while records.count < chunkSize, let record = try reader.next() { records.append(record) }
                guard !records.isEmpty else { return nil }
                let priorities = records.compactMap { record -> Int? in
                    guard case let .row(row) = record, let code = row.template else { return nil }
                    return catalog[code]?.category.priority
                }
                return QueuedRecordChunk(records: records, priority: priorities.min() ?? filePriority)
            }
            defer { ahead.cancel() }
            let claim = try await queue.enqueue(batch: batch, worker: worker.resolvedName) {
                try ahead.next().map { ($0.records, $0.priority) }
            }
            switch claim {
            case let .queued(rows, chunks):
                summary.notes.append("\(name): \(rows) row\(rows == 1 ? "" : "s") queued in \(chunks) chunk\(chunks == 1 ? "" : "s") for every worker")
            case let .takenBefore(owner, file, at):
                var rows = 0
                let again = try BatchReaders.open(url, catalog: workspace.catalog)
                while try again.next() != nil { rows += 1 }
                let reason = "batch \(id) was taken by worker \(owner) from \(file) at "
                    + "\(Timestamp.iso8601(at, timeZone: workspace.configuration.timeZone)); its \(rows) row\(rows == 1 ? "" : "s") were not queued again"
                var event = LogEvent(timestamp: clock(), messageID: batch.messageID(row: 0, channel: "batch"), batch: id, file: name,
                                     status: .duplicate, error: PipelineError(stage: .load, file: name, code: .duplicate, reason: reason))
                event.kind = .batch
                event.count = rows
                try log.append([event])
                try log.flush()
                summary.add(channel: RunSummary.rowLevel, status: DeliveryStatus.duplicate.rawValue, count: rows)
                summary.notes.append("\(name): \(reason)")
            }
            try dropFolder.markProcessed(url)
            summary.processedFiles.append(name)
        } catch let rejection as BatchRejection {
            try reject(url, as: name, because: rejection, in: dropFolder, into: &summary)
        }
    }

    /// Sends queued chunks, most urgent first, until the queue has none this worker may take:
    /// each chunk is leased, run through the whole chain, recorded, then removed. Chunk N is
    /// delivered while chunk N+1 is prepared, as in a batch.
    public func drainQueue(progress: (@Sendable (BatchProgress) -> Void)? = nil) async throws -> RunSummary {
        guard let queue else { return RunSummary() }
        let pipeline = pipeline()
        let preparation = pipeline.preparation, delivery = pipeline.delivery
        let name = worker.resolvedName, lease = worker.lease
        var summary = RunSummary()
        var rows = 0
        // This process holds the worker's name (a store lock), and its journal was recovered before
        // the drain: chunks still leased to the name were left by an earlier process of this worker
        // (killed, or a drain that failed). They go back to the queue now, not when the lease ends.
        let released = try await queue.release(worker: name)
        if released > 0 {
            summary.notes.append("took back \(released) chunk\(released == 1 ? "" : "s") left leased to worker \(name) by an earlier process")
        }
        _ = try? await self.progress?.prune(recordedBefore: clock().addingTimeInterval(-3600))
        var inFlight: (chunk: QueuedChunk, task: Task<[Job], Error>, heartbeat: LeaseHeartbeat)?
        // A delivered chunk leaves the queue only once its record write (spool, log, ledger) is
        // done, which the record stage waits for two chunks later, or at the chain's finish:
        // removed sooner, a crash meanwhile would lose what it deferred and leave its sends
        // unrecorded.
        var delivered: [(chunk: QueuedChunk, heartbeat: LeaseHeartbeat)] = []
        func finishDelivered(keeping kept: Int) async throws {
            while delivered.count > kept {
                let (chunk, heartbeat) = delivered.removeFirst()
                heartbeat.cancel()
                try await queue.finish(chunk.id)
            }
        }
        func collect() async throws {
            guard let (chunk, task, heartbeat) = inFlight else { return }
            inFlight = nil
            let done: [Job]
            do {
                done = try await task.value
            } catch {
                heartbeat.cancel()
                throw error
            }
            try await finishDelivered(keeping: 1)
            delivered.append((chunk, heartbeat))
            summary.add(done)
            rows += done.count
            progress?(BatchProgress(file: chunk.batch.file, rows: rows, fraction: 0))
        }
        do {
            while !shouldStop(), let chunk = try await queue.claim(worker: name, lease: lease) {
                // The chunk keeps its lease from the claim until it is finished, however long the
                // previous chunk's delivery or its own takes (a rate of 10/s, a slow provider):
                // renewed every third of the lease. Leases run on the database's wall clock, so
                // this waits real time, not the run's clock.
                let id = chunk.id
                let heartbeat = LeaseHeartbeat(every: lease / 3) { try? queue.renew(id, worker: name, lease: lease) }
                var jobs = chunk.records.map { BatchRunner.job(for: $0, batch: chunk.batch) }
                do {
                    if chunk.claims > 1 {
                        // Another worker held it and did not finish: what it sent is recorded as
                        // sent first, then the load stage finds it in the ledger as a duplicate.
                        summary.recoveredShared += try await recordSharedSends(of: jobs)
                        for j in jobs.indices { jobs[j].isRetaken = true }
                    }
                    try await preparation.run(&jobs)
                    try await collect()
                } catch {
                    heartbeat.cancel()
                    throw error
                }
                inFlight = (chunk, Task { [jobs] in
                    var jobs = jobs
                    try await delivery.run(&jobs)
                    return jobs
                }, heartbeat)
            }
            try await collect()
            try await pipeline.finish()
            try await finishDelivered(keeping: 0)
        } catch {
            // What is not finished keeps its lease until it runs out, or this worker restarts.
            _ = try? await inFlight?.task.value
            inFlight?.heartbeat.cancel()
            for (_, heartbeat) in delivered { heartbeat.cancel() }
            try await pipeline.finish()
            try log.flush()
            throw error
        }
        try log.flush()
        if summary.stopped == false, shouldStop() { summary.stopped = true }
        return summary
    }

    /// Records in the ledger and the log, as sent, what the shared store says another worker sent
    /// of `jobs` (a retaken chunk) and the ledger does not hold yet: that worker died before its
    /// chunk reached the ledger, and perhaps with its journal. Returns how many.
    func recordSharedSends(of jobs: [Job]) async throws -> Int {
        guard let progress else { return 0 }
        let ids = jobs.flatMap { job in
            Channel.allCases.map { job.batch.messageID(row: job.row.row, channel: $0.rawValue) }
        }
        let shared = try await progress.sends(of: ids)
        guard !shared.isEmpty else { return 0 }
        let known = try await ledger.statuses(of: Array(shared.keys))
        let fresh = shared.values.filter { known[$0.send.id]?.wasSent != true }.sorted { $0.send.id.value < $1.send.id.value }
        guard !fresh.isEmpty else { return 0 }
        let now = clock()
        let zone = workspace.configuration.timeZone
        try log.append(fresh.map { shared in
            shared.send.logEvent(at: now, extra: ["recovered": "shared store", "sent_by": shared.worker,
                                                  "sent_at": Timestamp.iso8601(shared.at, timeZone: zone)])
        })
        try log.flush()
        try await ledger.record(fresh.map { $0.send.ledgerEntry(at: now, worker: $0.worker) })
        return fresh.count
    }

    /// Sends the verification files of the drop folder that are complete now (settled, or renamed
    /// in), other than `current`, each through a chain of its own; what they did goes into `urgent`.
    func sendUrgentFiles(besides current: String, in dropFolder: DropFolder, into urgent: UrgentFiles) async throws {
        let (ready, _) = try dropFolder.scan(now: clock(), complete: arrivedComplete)
        let files = ready.filter { $0.lastPathComponent != current && priority(of: $0) == TemplateCategory.verification.priority }
        guard !files.isEmpty else { return }
        let runner = batchRunner()
        var summary = RunSummary()
        for url in files {
            _ = try await runBatch(url, with: runner, in: dropFolder, dryRun: false, progress: nil, into: &summary)
        }
        summary.notes.append("sent \(files.count) verification file\(files.count == 1 ? "" : "s") between chunks of \(current)")
        urgent.add(summary)
    }

    /// A runner for drop-folder files: a chain of its own, this run's chunk size and stop flag, and
    /// the ledger for batch ids from before the name joined the identity.
    func batchRunner(dryRun: Bool = false) -> BatchRunner {
        var runner = BatchRunner(pipeline: pipeline(dryRun: dryRun), catalog: workspace.catalog,
                                 chunkSize: workspace.configuration.chunkSize, shouldStop: shouldStop)
        let ledger = ledger
        runner.ledgerKnows = { try await ledger.knows(batch: $0) }
        return runner
    }

    /// Files ordered by the category of the template their name implies (verification first),
    /// then by name; files whose name implies no template count as transactional.
    func prioritized(_ files: [URL]) -> [URL] {
        files.sorted { a, b in
            let pa = priority(of: a), pb = priority(of: b)
            return pa != pb ? pa < pb : a.lastPathComponent < b.lastPathComponent
        }
    }

    private func priority(of file: URL) -> Int {
        let code = BatchReaders.impliedCode(file.lastPathComponent)
        return (workspace.catalog[code]?.category ?? .transactional).priority
    }

    /// Notifications from the command line (`herald send`, one row per recipient), through the same chain.
    /// `batchID` makes the send idempotent: sending again with the same id is a duplicate.
    public func send(_ rows: [RecipientRow], batchID: String, dryRun: Bool = false) async throws -> RunSummary {
        if !dryRun { _ = try await recover() }
        let runner = BatchRunner(pipeline: pipeline(dryRun: dryRun), catalog: workspace.catalog)
        let summary = try await runner.run(rows: rows, batch: BatchContext(id: batchID, file: "send"))

        try log.flush()
        return summary
    }
}

/// Renews a chunk's lease on a timer of Dispatch's, not a task: a cooperative pool busy with
/// other work (or blocked in a store call) cannot make it miss a renewal.
final class LeaseHeartbeat: @unchecked Sendable {
    private let timer: DispatchSourceTimer

    init(every interval: Duration, renew: @escaping @Sendable () -> Void) {
        timer = DispatchSource.makeTimerSource(queue: .global())
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        timer.schedule(deadline: .now() + seconds, repeating: seconds)
        timer.setEventHandler(handler: renew)
        timer.resume()
    }

    func cancel() {
        timer.cancel()
    }

    deinit {
        timer.cancel()
    }
}

/// A chunk of a batch on its way into the queue.
struct QueuedRecordChunk: Sendable {
    var records: [BatchRecord]
    var priority: Int
}

/// What the verification files sent between a batch's chunks did, gathered for the run's summary.
final class UrgentFiles: @unchecked Sendable {
    private let lock = NSLock()
    private var gathered = RunSummary()

    func add(_ summary: RunSummary) {
        lock.withLock { gathered.merge(summary) }
    }

    var summary: RunSummary { lock.withLock { gathered } }
}
