import Foundation

/// What providers and mail servers tell a run: receipt files (`recipients/inbox/receipts/`),
/// receipt pushes queued by `herald serve` (PostgreSQL) and bounce mail (`recipients/inbox/bounces/`).
public struct Intake: RunPart, Sendable {
    /// What the run works with.
    public let context: RunContext

    /// The intake of `context`.
    public init(_ context: RunContext) {
        self.context = context
    }

    /// Ingests settled receipt files of `recipients/inbox/receipts/<channel>/`; a file that
    /// cannot be read moves to rejected/ with its reason.
    public func receipts(into summary: inout RunSummary) async throws {
        let receipts = ReceiptFiles(root: workspace.root, configuration: workspace.configuration, parsers: context.receiptParsers)
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
        guard let receiptQueue = context.receiptQueue else { return }
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
        let lookup = context.recipientLookup
        return BounceIngest(ledger: ledger, log: log, preferences: preferences, masking: workspace.configuration.recipientMasking,
                            recipientLookup: { address in try lookup?(address) }, clock: clock)
    }

    /// Ingests settled bounce files and Maildirs of `recipients/inbox/bounces/`; a file that
    /// cannot be read moves to rejected/ with its reason.
    public func bounces(into summary: inout RunSummary) async throws {
        let waiting = BounceFiles.waiting(root: workspace.root, settle: workspace.configuration.settle, now: clock())
        guard !waiting.isEmpty else { return }
        guard let parser = context.bounceParser else {
            summary.notes.append("\(waiting.count) bounce file(s) wait in recipients/inbox/bounces/: this run reads no bounce mail (no bounce parser)")
            return
        }
        let files = BounceFiles(root: workspace.root, parser: parser)
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
}
