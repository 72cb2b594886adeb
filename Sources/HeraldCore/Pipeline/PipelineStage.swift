import Foundation

/// A named step of the chain, applied to a chunk of jobs in order.
///
/// A pipeline is two array literals of stages made by static factories (one file each under
/// `Pipeline/Stages/`):
///
/// ```swift
/// let pipeline = Pipeline(
///     preparation: [.load(from: catalog, ledger: ledger), .validate(using: renderer),
///                   .render(with: renderer, attachments: AttachmentPolicy(workspace: workspace)), .rateLimit(limiter)],
///     delivery: [.send(through: transports, control: control, journal: journal),
///                .record(to: ledger, log: log, masking: .masked, clock: { Date() })])
/// ```
public struct PipelineStage: Sendable {
    /// The stage's name, added to every failure that happens in it.
    public let name: StageName
    private let body: @Sendable (inout [Job]) async throws -> Void
    private let finishBody: (@Sendable () async throws -> Void)?

    /// A stage that works on a whole chunk at once (to batch ledger lookups, sends and writes).
    /// Per-row problems are recorded on the jobs; a thrown error is fatal to the run (the log or
    /// ledger cannot be written) and stops it.
    /// `finish` runs at the end of each batch, for stages that work in the background.
    public init(_ name: StageName, chunk body: @escaping @Sendable (inout [Job]) async throws -> Void,
                finish: (@Sendable () async throws -> Void)? = nil) {
        self.name = name
        self.body = body
        self.finishBody = finish
    }

    /// A stage that looks at each pending delivery; a thrown `StageFailure` ends that delivery
    /// with the failure's status, and the error names this stage.
    public static func eachDelivery(_ name: StageName,
                                    _ body: @escaping @Sendable (Job, inout Delivery) throws(StageFailure) -> Void) -> PipelineStage {
        PipelineStage(name) { jobs in
            for j in jobs.indices where jobs[j].failure == nil {
                // Take the deliveries out so the job can be passed by borrow while they change.
                var deliveries = jobs[j].deliveries
                jobs[j].deliveries = []
                for d in deliveries.indices where deliveries[d].isPending {
                    do throws(StageFailure) {
                        try body(jobs[j], &deliveries[d])
                    } catch {
                        deliveries[d].status = error.status
                        deliveries[d].error = jobs[j].error(name, error)
                    }
                }
                jobs[j].deliveries = deliveries
            }
        }
    }

    /// Completes background work (at the end of a batch).
    public func finish() async throws {
        do {
            try await finishBody?()
        } catch {
            throw FatalStageError(stage: name, underlying: "\(error)")
        }
    }

    /// Runs the stage on `jobs`; a fatal error comes back naming the stage.
    public func run(_ jobs: inout [Job]) async throws {
        do {
            try await body(&jobs)
        } catch {
            throw FatalStageError(stage: name, underlying: "\(error)")
        }
    }
}

/// A failure that stops the run: the stage could not do its work for anyone (disk full, the
/// ledger cannot be written).
public struct FatalStageError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stage.
    public var stage: StageName
    /// What went wrong.
    public var underlying: String

    public var description: String { "\(stage.rawValue): \(underlying)" }
}

extension Job {
    /// Ends the whole row with `failure` in `stage`.
    mutating func fail(_ stage: StageName, _ failure: StageFailure) {
        self.failure = error(stage, failure)
        failureStatus = failure.status
    }
}
