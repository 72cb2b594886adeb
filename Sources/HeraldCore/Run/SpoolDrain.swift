import Foundation

/// Sends every due retry and held escalation from the spool, through the same rate-limit, send
/// and record stages as new rows; an escalation whose first message was read (or delivered, or
/// sent) in time ends `skipped` instead.
public struct SpoolDrain: RunPart, Sendable {
    /// What the run works with.
    public let context: RunContext

    /// The drain of `context`'s spool.
    public init(_ context: RunContext) {
        self.context = context
    }

    /// Sends every spooled message whose time has come, verification first, oldest first,
    /// through the same rate-limit, send and record stages as new rows.
    public func drain(progress: (@Sendable (BatchProgress) -> Void)? = nil) async throws -> RunSummary {
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
}
