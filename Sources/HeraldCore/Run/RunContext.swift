import Foundation

/// Everything a run of a workspace needs (its configuration, stores, transports, clock and
/// limits), built once and never changed after: by `WorkspaceWiring.open` in production,
/// directly in tests. Each part of a run takes it and does one job:
///
/// | part | does |
/// |---|---|
/// | `JournalRecovery` | records what an interrupted run's send journal says was sent |
/// | `SpoolDrain` | sends due retries and held escalations |
/// | `DigestDrain` | sends digests whose window closed |
/// | `Intake` | ingests receipt files, queued receipt pushes and bounces |
/// | `DropFolderRun` | a whole `herald run` cycle: the above, then every batch file |
/// | `QueueDrain` | sends chunks queued by every worker (PostgreSQL) |
/// | `OneOffSend` | `herald send`: rows from the command line |
///
/// ```swift
/// let context = try await WorkspaceWiring.open(workspace)
/// let summary = try await DropFolderRun(context).run()
/// ```
public struct RunContext: Sendable {
    /// The workspace run.
    public let workspace: Workspace
    /// The transport of every account, channel and app.
    public let transports: TransportSet
    /// The ledger consulted before sending and written after; it stores a chunk's 站内信 too.
    public let ledger: any Ledger
    /// The JSON-lines log.
    public let log: any EventLog
    /// The clock of waits, backoff and quiet hours.
    public let timeSource: any HeraldClock
    /// Per-recipient counters (the workspace database in production).
    public let counters: any RecipientCounters
    /// Whether 站内信 were read, for escalations (HeraldInbox's store in production).
    public let siteMessages: (any SiteMessageStore)?
    /// Preferences and suppressions for this run.
    public let preferences: Preferences
    /// The spool.
    public let spool: (any Spool)?
    /// The send journal, or nil.
    public let journal: SendJournal?
    /// Token buckets, quotas and the burst guard, shared by every batch of this run.
    public let control: SendControl
    /// The receipt parser of each SMS provider transport (HeraldChannels' `ProviderReceipts.parsers`);
    /// receipt files of channels without one are rejected with the reason.
    public let receiptParsers: [TransportKind: any ReceiptParser]
    /// Reads bounce and complaint mail (HeraldChannels' `DeliveryReportParser`); without one,
    /// files in `recipients/inbox/bounces/` wait and each run says so.
    public let bounceParser: (any BounceParser)?
    /// The random part of retry backoff, 0…1 (a constant in tests, so retry times are exact).
    public let jitter: @Sendable () -> Double
    /// The work queue shared with other workers (PostgreSQL), or nil: each batch runs straight
    /// through the chain in this process. With a queue, a batch file is claimed and queued, and
    /// every worker's run sends what is queued.
    public let queue: (any WorkQueue)?
    /// Sends recorded for every worker as they happen (PostgreSQL), or nil: a retaken chunk
    /// records what its first worker sent and skips it.
    public let progress: (any SendProgressStore)?
    /// Receipt pushes kept as rows by `herald serve` (PostgreSQL), ingested with the receipt files.
    public let receiptQueue: (any ReceiptQueue)?
    /// This worker's name and lease on queued chunks.
    public let worker: WorkerSettings
    /// Where rows of digest templates collect until sent.
    public let digests: (any DigestStore)?
    /// Publishes a `NAME.notice.json` file dropped in the drop folder and says what it did; nil
    /// treats such files like any other JSON file.
    public let noticePublisher: (@Sendable (URL) async throws -> String)?
    /// The latest mail message sent to an address (the trace index), for bounces that name
    /// neither a VERP address nor a Message-ID of Herald's; nil: such bounces stay unmatched.
    public let recipientLookup: (@Sendable (String) throws -> MessageID?)?

    /// The context of a run. Left out: counters in memory, empty preferences, the spool, journal
    /// and digests under the workspace, no queue (embedded), quotas and rate buckets in memory.
    public init(workspace: Workspace, transports: TransportSet, ledger: any Ledger, log: any EventLog,
                clock: any HeraldClock = SystemClock(), counters: (any RecipientCounters)? = nil,
                preferences: Preferences? = nil, spool: (any Spool)? = nil, journal: SendJournal? = nil,
                siteMessages: (any SiteMessageStore)? = nil, digests: (any DigestStore)? = nil,
                queue: (any WorkQueue)? = nil, progress: (any SendProgressStore)? = nil,
                receiptQueue: (any ReceiptQueue)? = nil, worker: WorkerSettings = WorkerSettings(),
                sharedRates: (any SharedRateBuckets)? = nil, quotas: (any AccountQuotas)? = nil,
                receiptParsers: [TransportKind: any ReceiptParser] = [:], bounceParser: (any BounceParser)? = nil,
                noticePublisher: (@Sendable (URL) async throws -> String)? = nil,
                recipientLookup: (@Sendable (String) throws -> MessageID?)? = nil,
                jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }) {
        self.workspace = workspace
        self.transports = transports
        self.ledger = ledger
        self.log = log
        self.timeSource = clock
        self.counters = counters ?? MemoryRecipientCounters()
        self.preferences = preferences ?? Preferences()
        self.spool = spool ?? FileSpool(root: workspace.root)
        self.journal = journal ?? SendJournal(root: workspace.root)
        self.siteMessages = siteMessages
        self.digests = digests ?? FileDigestStore(root: workspace.root)
        self.queue = queue
        self.progress = progress
        self.receiptQueue = receiptQueue
        self.worker = worker
        self.receiptParsers = receiptParsers
        self.bounceParser = bounceParser
        self.noticePublisher = noticePublisher
        self.recipientLookup = recipientLookup
        self.jitter = jitter
        let configuration = workspace.configuration
        control = SendControl(clock: clock, burstLimit: configuration.burstFailures, timeZone: configuration.timeZone,
                              shared: sharedRates, quotas: quotas ?? MemoryAccountQuotas(),
                              dailyQuota: { channel, account in channel == .mail ? configuration.mailAccounts[account]?.dailyQuota : nil },
                              rates: { channel, account in configuration.rate(channel: channel, account: account) })
    }

    /// The wall clock as a function (log timestamps, settle times).
    public var clock: @Sendable () -> Date {
        let source = timeSource
        return { source.now() }
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
                .render(with: renderer, attachments: attachments, oneClick: workspace.configuration.unsubscribe,
                        contentRules: workspace.contentRules),
            ])
        }
        let limiter = RateLimiter(configuration: workspace.configuration, preferences: preferences, counters: counters,
                                  clock: timeSource, digests: digests)
        return Pipeline(
            preparation: [
                .load(from: catalog, ledger: ledger),
                .validate(using: renderer, timeZone: workspace.configuration.timeZone),
                .render(with: renderer, attachments: attachments, oneClick: workspace.configuration.unsubscribe,
                        contentRules: workspace.contentRules),
                .rateLimit(limiter),
            ],
            delivery: [
                .send(through: transports, control: control, journal: journal),
                .record(to: ledger, log: log, spool: spool, configuration: workspace.configuration, preferences: preferences,
                        counters: counters, clock: clock, jitter: jitter),
            ])
    }

    /// Moves `url` to rejected/ with its `.error.txt`, and counts it in `summary` under `name`
    /// with where the explanation is (the file may have been renamed `NAME.1.EXT` there).
    func reject(_ url: URL, as name: String, because rejection: BatchRejection, in dropFolder: DropFolder,
                into summary: inout RunSummary) throws {
        summary.rejectedFiles.append((name, rejection.description))
        let moved = try dropFolder.reject(url, because: rejection, at: clock(), timeZone: workspace.configuration.timeZone)
        summary.rejectedExplanations[name] = "recipients/rejected/\(moved.lastPathComponent).error.txt"
    }

    /// Files ordered by the category of the template their name implies (verification first),
    /// then by name; files whose name implies no template count as transactional.
    func prioritized(_ files: [URL]) -> [URL] {
        files.sorted { a, b in
            let pa = priority(of: a), pb = priority(of: b)
            return pa != pb ? pa < pb : a.lastPathComponent < b.lastPathComponent
        }
    }

    func priority(of file: URL) -> Int {
        let code = BatchReaders.impliedCode(file.lastPathComponent)
        return (workspace.catalog[code]?.category ?? .transactional).priority
    }
}

/// A part of a run: it reads the context's fields by their names.
protocol RunPart {
    /// What the run works with.
    var context: RunContext { get }
}

extension RunPart {
    var workspace: Workspace { context.workspace }
    var ledger: any Ledger { context.ledger }
    var log: any EventLog { context.log }
    var clock: @Sendable () -> Date { context.clock }
    var siteMessages: (any SiteMessageStore)? { context.siteMessages }
    var preferences: Preferences { context.preferences }
    var spool: (any Spool)? { context.spool }
    var journal: SendJournal? { context.journal }
    var control: SendControl { context.control }
    var queue: (any WorkQueue)? { context.queue }
    var worker: WorkerSettings { context.worker }
    var digests: (any DigestStore)? { context.digests }

    func pipeline(dryRun: Bool = false) -> Pipeline { context.pipeline(dryRun: dryRun) }

    func reject(_ url: URL, as name: String, because rejection: BatchRejection, in dropFolder: DropFolder,
                into summary: inout RunSummary) throws {
        try context.reject(url, as: name, because: rejection, in: dropFolder, into: &summary)
    }
}
