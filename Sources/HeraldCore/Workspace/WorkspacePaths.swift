import Foundation

/// Every file and folder of a workspace, named once. Components take the paths they use from
/// here instead of building them; the workspace layout is what DESIGN §1 and the README show.
///
/// ```swift
/// let paths = WorkspacePaths(root: URL(fileURLWithPath: "/srv/notify"))
/// paths.database   // /srv/notify/outbox/herald.sqlite
/// ```
public struct WorkspacePaths: Sendable, Hashable {
    /// The workspace folder (holding herald.yaml).
    public let root: URL

    /// Paths under `root`.
    public init(root: URL) {
        self.root = root
    }

    private func path(_ relative: String, folder: Bool = false) -> URL {
        root.appendingPathComponent(relative, isDirectory: folder)
    }

    /// `herald.yaml`.
    public var configuration: URL { path(Configuration.fileName) }
    /// `templates`, relative to the workspace.
    public static let templatesFolder = "templates"
    /// `templates/`: one YAML file per notification.
    public var templates: URL { path(Self.templatesFolder, folder: true) }

    /// `recipients/inbox/`: the drop folder for batches.
    public var dropFolder: URL { path("recipients/inbox", folder: true) }
    /// `recipients/processed/`: batches read through.
    public var processed: URL { path("recipients/processed", folder: true) }
    /// `recipients/rejected/`: batches that could not be read, each with `NAME.error.txt`.
    public var rejected: URL { path("recipients/rejected", folder: true) }
    /// `recipients/preferences.csv`: opt-outs per user or address, channel and category.
    public var preferences: URL { path("recipients/preferences.csv") }
    /// `recipients/suppressions.csv`: hard bounces, complaints, 退订.
    public var suppressions: URL { path("recipients/suppressions.csv") }
    /// `recipients/inbox/receipts/<channel>/`: delivery receipts waiting to be ingested.
    public func receiptsWaiting(_ channel: String? = nil) -> URL {
        path("recipients/inbox/receipts" + (channel.map { "/\($0)" } ?? ""), folder: true)
    }
    /// `recipients/processed/receipts/<channel>/`: receipt files ingested.
    public func receiptsProcessed(_ channel: String) -> URL { path("recipients/processed/receipts/\(channel)", folder: true) }
    /// `recipients/unmatched-receipts/<channel>/`: receipts that matched no message, kept aside.
    public func receiptsUnmatched(_ channel: String) -> URL { path("recipients/unmatched-receipts/\(channel)", folder: true) }

    /// `recipients/inbox/bounces/`: bounce and complaint messages (.eml, mbox, Maildir) waiting to be ingested.
    public var bouncesWaiting: URL { path("recipients/inbox/bounces", folder: true) }
    /// `recipients/processed/bounces/`: bounce files ingested.
    public var bouncesProcessed: URL { path("recipients/processed/bounces", folder: true) }
    /// `recipients/unmatched-bounces/`: messages that are no report or match no message, kept aside with why.
    public var bouncesUnmatched: URL { path("recipients/unmatched-bounces", folder: true) }

    /// `outbox/`.
    public var outbox: URL { path("outbox", folder: true) }
    /// `outbox/herald.sqlite`: the ledger, counters, tokens and the 站内信 store.
    public var database: URL { path("outbox/herald.sqlite") }
    /// `outbox/log/`: the JSON-lines logs, one file per day.
    public var logs: URL { path("outbox/log", folder: true) }
    /// `outbox/spool/`: deferred messages; `dead/` inside it holds those given up on.
    public var spool: URL { path("outbox/spool", folder: true) }
    /// `outbox/spool/digests/`: digests collecting rows until their window closes.
    public var digests: URL { path("outbox/spool/digests", folder: true) }
    /// `outbox/journal/`: the send journal of the run in progress.
    public var journal: URL { path("outbox/journal", folder: true) }
    /// `outbox/sent`, relative to the workspace: the file transport's provider ids start with it.
    public static let sentFolder = "outbox/sent"
    /// `outbox/sent/`: what the file transport wrote.
    public var sent: URL { path(Self.sentFolder, folder: true) }
    /// `outbox/sent/.tmp/`: files the file transport is writing.
    public var sentTemporaries: URL { path("outbox/sent/.tmp", folder: true) }
    /// `outbox/.lock`: held by the run working on the workspace.
    public var runLock: URL { path("outbox/.lock") }
    /// `outbox/.metrics.lock` and `outbox/metrics.json`: the metrics refresh's lock and offsets.
    public var metricsLock: URL { path("outbox/.metrics.lock") }
    /// The offsets of the log read so far by metrics refreshes.
    public var metricsState: URL { path("outbox/metrics.json") }

    /// `reports/`: generated reports.
    public var reports: URL { path("reports", folder: true) }
    /// `reports/metrics.prom`.
    public var metrics: URL { path("reports/metrics.prom") }

    /// `templates/attachments/` and `recipients/attachments/`: where attachments may come from.
    public var attachmentFolders: [URL] { AttachmentPolicy.folders.map { path($0, folder: true) } }
}

extension Workspace {
    /// Where everything of this workspace lives.
    public var paths: WorkspacePaths { WorkspacePaths(root: root) }
}
