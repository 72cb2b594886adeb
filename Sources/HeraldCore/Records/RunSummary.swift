import Foundation

/// Counts by channel and status, for the table every command ends with.
public struct RunSummary: Sendable, Hashable {
    /// A line of the table: a channel, or rows that failed before their channels were known.
    public enum Subject: Sendable, Hashable, CustomStringConvertible {
        /// Deliveries of one channel.
        case channel(Channel)
        /// Rows that failed before their channels were known (printed `(row)`).
        case row

        /// `mail`, `(row)`.
        public var description: String {
            switch self {
            case let .channel(channel): channel.rawValue
            case .row: "(row)"
            }
        }
    }

    /// A column of the table: a delivery status, or deliveries a dry run rendered but did not send.
    public enum Outcome: Sendable, Hashable, CustomStringConvertible {
        /// Deliveries that ended with this status.
        case status(DeliveryStatus)
        /// Deliveries a dry run rendered and did not send (printed `rendered`).
        case rendered

        /// `sent`, `rendered`.
        public var description: String {
            switch self {
            case let .status(status): status.rawValue
            case .rendered: "rendered"
            }
        }
    }

    /// counts[subject][outcome]
    public private(set) var counts: [Subject: [Outcome: Int]] = [:]
    /// Batch files read through.
    public var processedFiles: [String] = []
    /// Batch files rejected, with the reason.
    public var rejectedFiles: [(name: String, reason: String)] = []
    /// Where each rejected file's explanation was written (`recipients/rejected/NAME.error.txt`,
    /// or `NAME.1.EXT.error.txt` when the name was taken), by the name in `rejectedFiles`.
    public var rejectedExplanations: [String: String] = [:]
    /// Files left in the inbox because they are still being written.
    public var settlingFiles: [String] = []
    /// Files left in the inbox because the run was asked to stop while reading them.
    public var interruptedFiles: [String] = []
    /// Spooled messages whose time had come and were tried again.
    public var spooledRetried = 0
    /// Sends recovered from the journal of an interrupted run.
    public var recovered = 0
    /// Messages that were in flight when an earlier run died (they may be sent again).
    public var inFlightAtCrash = 0
    /// Sends of other workers that died holding a chunk, recorded from the shared store.
    public var recoveredShared = 0
    /// Transports paused for failing too often, with the reason.
    public var pausedTransports: [TransportKey: String] = [:]
    /// Whether the batch stopped early because the run was asked to stop.
    public var stopped = false
    /// Other things the run did (announcements published from notice files).
    public var notes: [String] = []
    /// Bounce and complaint messages ingested.
    public var bounces = BounceSummary()

    /// Creates an empty summary.
    public init() {}

    public static func == (lhs: RunSummary, rhs: RunSummary) -> Bool {
        lhs.counts == rhs.counts && lhs.processedFiles == rhs.processedFiles
            && lhs.rejectedFiles.map(\.name) == rhs.rejectedFiles.map(\.name) && lhs.settlingFiles == rhs.settlingFiles
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(counts)
        hasher.combine(processedFiles)
    }

    /// Adds `count` deliveries (or rows) with `outcome`.
    public mutating func add(_ subject: Subject, _ outcome: Outcome, count: Int = 1) {
        counts[subject, default: [:]][outcome, default: 0] += count
    }

    /// Adds the outcomes of a processed chunk.
    public mutating func add(_ jobs: [Job]) {
        // By index: `for job in jobs` would copy every job.
        for j in jobs.indices {
            if jobs[j].failure != nil {
                add(.row, .status(jobs[j].failureStatus ?? .invalid))
                continue
            }
            for d in jobs[j].deliveries.indices {
                add(.channel(jobs[j].deliveries[d].channel), jobs[j].deliveries[d].status.map(Outcome.status) ?? .rendered)
            }
        }
    }

    /// Merges another summary into this one.
    public mutating func merge(_ other: RunSummary) {
        for (subject, outcomes) in other.counts {
            for (outcome, count) in outcomes { add(subject, outcome, count: count) }
        }
        processedFiles += other.processedFiles
        rejectedFiles += other.rejectedFiles
        rejectedExplanations.merge(other.rejectedExplanations) { _, new in new }
        settlingFiles += other.settlingFiles
        interruptedFiles += other.interruptedFiles
        spooledRetried += other.spooledRetried
        recovered += other.recovered
        inFlightAtCrash += other.inFlightAtCrash
        recoveredShared += other.recoveredShared
        pausedTransports.merge(other.pausedTransports) { first, _ in first }
        notes += other.notes
        bounces.merge(other.bounces)
    }

    /// The count for one outcome over all channels.
    public func total(_ outcome: Outcome) -> Int {
        counts.values.reduce(0) { $0 + ($1[outcome] ?? 0) }
    }

    /// The count for one status over all channels.
    public func total(_ status: DeliveryStatus) -> Int {
        total(.status(status))
    }

    /// Whether anything failed or was invalid (exit code 1).
    public var hasFailures: Bool {
        total(.failed) + total(.invalid) > 0 || !rejectedFiles.isEmpty
    }

    /// A plain-text table: one row per channel, one column per status that occurred.
    ///
    /// ```
    /// channel  sent  invalid  total
    /// mail        2        1      3
    /// total       2        1      3
    /// ```
    public func table() -> String {
        let outcomeOrder = DeliveryStatus.allCases.map(Outcome.status) + [.rendered]
        let present = outcomeOrder.filter { total($0) > 0 }
        let subjectOrder = Channel.allCases.map(Subject.channel) + [.row]
        let subjects = subjectOrder.filter { counts[$0] != nil }
        var rows: [[String]] = [["channel"] + present.map(\.description) + ["total"]]
        for subject in subjects {
            let values = present.map { counts[subject]?[$0] ?? 0 }
            rows.append([subject.description] + values.map(String.init) + [String(values.reduce(0, +))])
        }
        let totals = present.map { total($0) }
        rows.append(["total"] + totals.map(String.init) + [String(totals.reduce(0, +))])
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                            : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
