import Foundation

/// The stage chain, in two parts: **preparation** (load, validate, render, rate-limit: rows
/// without the outside world) and **delivery** (send, record). A batch runner overlaps them:
/// chunk N is delivered while chunk N+1 is prepared.
///
/// ```swift
/// let pipeline = Pipeline(preparation: [.load(from: catalog, ledger: ledger), .validate(using: renderer),
///                                       .render(with: renderer), .rateLimit(limiter)],
///                         delivery: [.send(through: transports), .record(to: ledger, log: log, masking: .masked, clock: { Date() })])
/// ```
public struct Pipeline: Sendable {
    /// The stages that work on rows without the outside world.
    public let preparationStages: [PipelineStage]
    /// The stages that send and record.
    public let deliveryStages: [PipelineStage]

    /// Every stage in order.
    public var stages: [PipelineStage] { preparationStages + deliveryStages }

    /// Creates a pipeline from its two parts.
    public init(preparation: [PipelineStage], delivery: [PipelineStage]) {
        preparationStages = preparation
        deliveryStages = delivery
    }

    /// A pipeline whose stages all run one after another on each chunk (a dry run, tests):
    /// nothing is overlapped.
    public init(_ stages: [PipelineStage]) {
        self.init(preparation: stages, delivery: [])
    }

    /// Runs every stage over `jobs`.
    public func run(_ jobs: inout [Job]) async throws {
        for stage in stages {
            try await stage.run(&jobs)
        }
    }

    /// The preparation part alone.
    public var preparation: Pipeline { Pipeline(preparation: preparationStages, delivery: []) }

    /// The delivery part alone.
    public var delivery: Pipeline { Pipeline(preparation: deliveryStages, delivery: []) }

    /// Lets every stage complete its background work; call at the end of each batch.
    public func finish() async throws {
        for stage in stages {
            try await stage.finish()
        }
    }
}
