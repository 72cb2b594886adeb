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
    /// Publishes a `NAME.notice.json` file dropped in the drop folder and says what it did; nil
    /// treats such files like any other JSON file.
    public var noticePublisher: (@Sendable (URL) throws -> String)?

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
        let configuration = workspace.configuration
        control = SendControl(clock: clock, burstLimit: configuration.burstFailures, timeZone: configuration.timeZone) { channel, account in
            configuration.rate(channel: channel, account: account)
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
                .validate(using: renderer),
                .render(with: renderer, attachments: attachments),
            ])
        }
        let limiter = RateLimiter(configuration: workspace.configuration, preferences: preferences, counters: counters,
                                  clock: timeSource)
        return Pipeline(
            preparation: [
                .load(from: catalog, ledger: ledger),
                .validate(using: renderer),
                .render(with: renderer, attachments: attachments),
                .rateLimit(limiter),
            ],
            delivery: [
                .send(through: transports, control: control, journal: journal),
                .record(to: ledger, log: log, spool: spool, configuration: workspace.configuration, preferences: preferences,
                        counters: counters, siteMessages: siteMessages, clock: clock, jitter: jitter),
            ])
    }

    /// Puts what the send journal of an interrupted run says was sent into the ledger and the
    /// log. Returns (recovered sends, messages that were in flight without an outcome).
    public func recover() throws -> (recovered: Int, inFlight: Int) {
        guard let journal else { return (0, 0) }
        let (segments, sends, inFlight) = try journal.pending()
        guard !segments.isEmpty else { return (0, 0) }
        let known = try ledger.statuses(of: sends.map(\.id))
        let now = clock()
        let fresh = sends.filter { known[$0.id]?.wasSent != true }
        try log.append(fresh.map { send in
            LogEvent(timestamp: now, messageID: send.id, batch: send.batch, file: send.file, row: send.row, template: send.template,
                     category: send.category, channel: send.channel, account: send.account, transport: send.transport,
                     status: .sent, providerID: send.providerID, extra: ["recovered": "send journal"])
        })
        try log.flush()
        try ledger.record(fresh.map { send in
            LedgerEntry(id: send.id, batch: send.batch, row: send.row, channel: send.channel, template: send.template,
                        status: .sent, providerID: send.providerID, updatedAt: now)
        })
        for send in sends { try spool?.remove(send.id.value) }
        for segment in segments { unlink(segment.path) }
        return (fresh.count, inFlight.count)
    }

    /// Sends every spooled message whose time has come, verification first, oldest first,
    /// through the same rate-limit, send and record stages as new rows.
    public func drainSpool(progress: (@Sendable (BatchProgress) -> Void)? = nil) async throws -> RunSummary {
        guard let spool else { return RunSummary() }
        let due = try spool.due(at: clock())
        guard !due.isEmpty else { return RunSummary() }
        let pipeline = pipeline()
        var summary = RunSummary()
        for start in stride(from: 0, to: due.count, by: workspace.configuration.chunkSize) {
            var jobs = due[start..<min(due.count, start + workspace.configuration.chunkSize)].map(Self.job(for:))
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

    static func job(for entry: SpoolEntry) -> Job {
        var row = RecipientRow(row: entry.row, line: entry.line, template: entry.message.template, recipient: entry.recipient)
        row.mail = entry.mail
        var job = Job(batch: BatchContext(id: entry.batch, file: entry.file), row: row)
        var delivery = Delivery(id: MessageID(entry.id), channel: entry.channel, address: entry.address)
        delivery.account = entry.account
        delivery.message = entry.message
        delivery.spooled = (entry.attempts, entry.firstSeen)
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
            let (recovered, inFlight) = try recover()
            summary.recovered = recovered
            summary.inFlightAtCrash = inFlight
            summary.merge(try await drainSpool(progress: progress))
            try ingestReceipts(into: &summary)
        }
        try await runBatches(dryRun: dryRun, progress: progress, into: &summary)
        summary.pausedTransports = control.pausedTransports
        return summary
    }

    /// Ingests settled receipt files of `recipients/inbox/receipts/<channel>/`; a file that
    /// cannot be read moves to rejected/ with its reason.
    func ingestReceipts(into summary: inout RunSummary) throws {
        let receipts = ReceiptFiles(root: workspace.root, configuration: workspace.configuration, parsers: receiptParsers)
        let ingest = ReceiptIngest(ledger: ledger, log: log, clock: clock)
        for (channel, url) in receipts.waiting(settle: workspace.configuration.settle, now: clock()) {
            do {
                let report = try receipts.ingest(url, channel: channel, with: ingest, move: true)
                summary.notes.append("receipts/\(channel)/\(url.lastPathComponent): \(report.delivered) delivered, "
                    + "\(report.undelivered) undelivered, \(report.duplicates) duplicate, \(report.unmatched.count) unmatched")
            } catch let rejection as BatchRejection {
                summary.rejectedFiles.append(("receipts/\(channel)/\(url.lastPathComponent)", rejection.description))
                try DropFolder(root: workspace.root, settle: .zero)
                    .reject(url, because: rejection, at: clock(), timeZone: workspace.configuration.timeZone)
            }
        }
    }

    /// Every complete file of the drop folder, most urgent first: announcements are published,
    /// batches run through the chain.
    func runBatches(dryRun: Bool, progress: (@Sendable (BatchProgress) -> Void)?, into summary: inout RunSummary) async throws {
        let dropFolder = DropFolder(root: workspace.root, settle: workspace.configuration.settle)
        let (ready, settling) = try dropFolder.scan(now: clock())
        summary.settlingFiles = settling
        var runner = BatchRunner(pipeline: pipeline(dryRun: dryRun), catalog: workspace.catalog,
                                 chunkSize: workspace.configuration.chunkSize, shouldStop: shouldStop)
        let ledger = ledger
        runner.ledgerKnows = { try ledger.knows(batch: $0) }
        for url in prioritized(ready) {
            if shouldStop() { break }
            if let noticePublisher, url.lastPathComponent.hasSuffix(".notice.json") {
                if dryRun { continue }
                do {
                    summary.notes.append("\(url.lastPathComponent): \(try noticePublisher(url))")
                    try dropFolder.markProcessed(url)
                } catch let rejection as BatchRejection {
                    summary.rejectedFiles.append((url.lastPathComponent, rejection.description))
                    try dropFolder.reject(url, because: rejection, at: clock(), timeZone: workspace.configuration.timeZone)
                }
                continue
            }
            guard try await runBatch(url, with: runner, in: dropFolder, dryRun: dryRun, progress: progress, into: &summary) else { break }
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
            summary.processedFiles.append(url.lastPathComponent)
            if !dryRun { try dropFolder.markProcessed(url) }
        } catch var rejection as BatchRejection {
            try log.flush()
            // Rows handled before the problem (or the whole file, when only the move to
            // processed/ failed) are counted and named, never reported as "nothing sent".
            if let handled {
                rejection.handled = handled
            } else if let partial = rejection.handled {
                summary.merge(partial)
            }
            summary.rejectedFiles.append((url.lastPathComponent, rejection.description))
            if !dryRun { try dropFolder.reject(url, because: rejection, at: clock(), timeZone: workspace.configuration.timeZone) }
        }
        return true
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
        if !dryRun { _ = try recover() }
        let runner = BatchRunner(pipeline: pipeline(dryRun: dryRun), catalog: workspace.catalog)
        let summary = try await runner.run(rows: rows, batch: BatchContext(id: batchID, file: "send"))

        try log.flush()
        return summary
    }
}
