import Foundation

/// Sends every digest whose window closed (or that filled up).
public struct DigestDrain: RunPart, Sendable {
    /// What the run works with.
    public let context: RunContext

    /// The drain of `context`'s digests.
    public init(_ context: RunContext) {
        self.context = context
    }

    /// Sends every digest whose window closed (or that filled up): one message per channel to the
    /// last row's addresses, with `{digest_count}` and `{digest_items}`, through the whole chain.
    /// Its id comes from the digest, so a digest sent before a crash is a duplicate, not sent twice.
    public func drain() async throws -> RunSummary {
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
}
