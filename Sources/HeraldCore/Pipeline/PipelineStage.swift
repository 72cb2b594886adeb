import Foundation

/// A named step of the chain, applied to a chunk of jobs in order.
///
/// The pipeline is an array literal of stages made by static factories:
///
/// ```swift
/// let pipeline = Pipeline([
///     .load(from: catalog, ledger: ledger),
///     .validate(using: renderer),
///     .render(with: renderer, attachments: AttachmentPolicy(workspace: workspace)),
///     .rateLimit(limiter),
///     .send(through: transports, control: control, journal: journal),
///     .record(to: ledger, log: log, masking: .masked, clock: { Date() }),
/// ])
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

/// The stage chain: stages applied in order to each chunk of rows.
public struct Pipeline: Sendable {
    /// The stages in order.
    public let stages: [PipelineStage]

    /// Creates a pipeline from stages.
    public init(_ stages: [PipelineStage]) {
        self.stages = stages
    }

    /// Runs every stage over `jobs`.
    public func run(_ jobs: inout [Job]) async throws {
        for stage in stages {
            try await stage.run(&jobs)
        }
    }

    /// The stages before `send`: everything that works on rows without the outside world.
    public var preparation: Pipeline {
        Pipeline(Array(stages.prefix { $0.name != .send }))
    }

    /// `send` and the stages after it.
    public var delivery: Pipeline {
        Pipeline(Array(stages.drop { $0.name != .send }))
    }

    /// Lets every stage complete its background work; call at the end of each batch.
    public func finish() async throws {
        for stage in stages {
            try await stage.finish()
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

extension PipelineStage {
    /// **load**: finds each row's template, decides its channels, gives each delivery its
    /// message id and fingerprint, and marks as `duplicate` what the ledger already holds as
    /// handed over with the same fingerprint. The same id handed over with another fingerprint
    /// (a batch id reused for other content) is not sent: `invalid`, code `id_conflict`, under an
    /// id of its own so the earlier message's record stays as it is.
    public static func load(from catalog: TemplateCatalog, ledger: (any Ledger)?) -> PipelineStage {
        // Whether the ledger knew a batch when its first chunk arrived: only then can a row be a
        // duplicate, so a new batch skips the per-message lookups.
        let history = BatchHistory()
        let references = TemplateReferences(catalog)
        return PipelineStage(.load, chunk: { jobs in
            // Jobs taken from the spool arrive with their deliveries already rendered.
            for index in jobs.indices where jobs[index].failure == nil && jobs[index].deliveries.isEmpty {
                prepare(&jobs[index], catalog: catalog, references: references)
            }
            guard let ledger, let batch = jobs.first?.batch.id else { return }
            do {
                let fromSpool = jobs.contains { $0.deliveries.contains { $0.spooled != nil } }
                guard try fromSpool || history.knew(batch, ledger: ledger) else { return }
                let ids = jobs.flatMap { $0.deliveries.map(\.id) }
                let known = try ledger.records(of: ids)
                for j in jobs.indices {
                    for d in jobs[j].deliveries.indices {
                        let delivery = jobs[j].deliveries[d]
                        guard let record = known[delivery.id] else { continue }
                        // A spooled message is itself `deferred` in the ledger; it is a duplicate
                        // only if it was sent meanwhile (recovered from the journal after a crash).
                        if delivery.spooled != nil {
                            if [.sent, .delivered, .undelivered].contains(record.status) { jobs[j].deliveries[d].status = .duplicate }
                            continue
                        }
                        guard record.status.isHandedOver else { continue }
                        if let earlier = record.fingerprint, let now = delivery.fingerprint, earlier != now {
                            conflict(&jobs[j], delivery: d, record: record)
                        } else {
                            jobs[j].deliveries[d].status = .duplicate
                        }
                    }
                }
            } catch {
                // Without the ledger nothing can be sent safely: fail the chunk, send nothing.
                for j in jobs.indices {
                    for d in jobs[j].deliveries.indices where jobs[j].deliveries[d].isPending {
                        jobs[j].deliveries[d].status = .failed
                        jobs[j].deliveries[d].error = jobs[j].error(.load, StageFailure(.failed, code: "ledger_unavailable", "the ledger could not be read: \(error)"))
                    }
                }
            }
        }, finish: {
            // The next batch (even the same file dropped again under another name) asks anew.
            history.reset()
        })
    }

    /// Ends a delivery whose id the ledger holds with other content: it gets an id of its own
    /// (derived from its fingerprint) so its `invalid` record does not replace the earlier one.
    private static func conflict(_ job: inout Job, delivery d: Int, record: LedgerRecord) {
        let delivery = job.deliveries[d]
        let earlier = record.file.map { "'\($0)'" } ?? "an earlier batch"
        job.deliveries[d].id = MessageID(batch: "\(job.batch.id)\u{0}conflict:\(delivery.fingerprint ?? "")", row: job.row.row,
                                         channel: delivery.channel.rawValue)
        job.deliveries[d].status = .invalid
        job.deliveries[d].error = job.error(.load, StageFailure(.invalid, code: "id_conflict",
            "batch id '\(job.batch.id)' was already used by \(earlier), whose row \(job.row.row) was \(record.status.rawValue) "
            + "as message \(delivery.id.value) with another template, address or parameters; this row was not sent. "
            + "Give a batch with new content a new id"))
    }

    private static func prepare(_ job: inout Job, catalog: TemplateCatalog, references: TemplateReferences) {
        let row = job.row
        if let (column, scalar, position) = row.controlCharacter {
            job.fail(.load, StageFailure(.invalid, code: "control_character",
                "column '\(column)' holds the control character \(String(format: "U+%04X", scalar.value)) at character \(position); "
                + "remove it (only tab and line breaks are allowed in values)"))
            return
        }

        guard let code = row.template else {
            job.fail(.load, StageFailure(.invalid, code: "no_template", "the row names no template; fill the template column"))
            return
        }
        guard let template = catalog[code] else {
            var reason = "no template '\(code)' in templates/"
            if let guess = Spelling.closest(to: code, among: catalog.codes) { reason += "; did you mean '\(guess)'?" }
            job.fail(.load, StageFailure(.invalid, code: "unknown_template", reason))
            return
        }
        job.templateReference = references.reference(for: template)
        let used = template.parameterNames
        if row.parameters.keys.contains(where: { !used.contains($0) }) {
            job.extraParameters = row.parameters.filter { !used.contains($0.key) }
        }

        var channels: [Channel] = []
        if let requested = row.channels {
            for name in requested {
                guard let channel = Channel(rawValue: name) else {
                    let known = Channel.allCases.map(\.rawValue)
                    var reason = "unknown channel '\(name)'; use \(known.joined(separator: ", "))"
                    if let guess = Spelling.closest(to: name, among: known) { reason = "unknown channel '\(name)'; did you mean '\(guess)'?" }
                    job.fail(.load, StageFailure(.invalid, code: "unknown_channel", reason))
                    return
                }
                guard template.channels.contains(channel) else {
                    job.fail(.load, StageFailure(.invalid, code: "no_variant",
                        "template '\(code)' has no \(channel.rawValue) variant; it has \(template.channels.map(\.rawValue).joined(separator: ", "))"))
                    return
                }
                if !channels.contains(channel) { channels.append(channel) }
            }
        } else {
            channels = template.channels.filter { row.recipient.address(for: $0) != nil }
            if channels.isEmpty {
                let needed = template.channels.map(\.addressColumn).joined(separator: ", ")
                job.fail(.load, StageFailure(.skipped, code: "no_address",
                    "the row has no address for any channel of '\(code)'; fill one of \(needed)"))
                return
            }
        }
        job.deliveries = channels.map { channel in
            let address = row.recipient.address(for: channel) ?? ""
            var delivery = Delivery(id: job.batch.messageID(row: row.row, channel: channel.rawValue), channel: channel, address: address)
            delivery.fingerprint = MessageFingerprint.of(template: code, channel: channel, address: address, parameters: row.parameters)
            return delivery
        }

    }

    /// **validate**: the template is enabled, each address is well formed (and normalised),
    /// every required parameter has a value.
    public static func validate(using renderer: TemplateRenderer) -> PipelineStage {
        .eachDelivery(.validate) { job, delivery throws(StageFailure) in
            guard let template = job.template else { return }
            if template.status == .disabled {
                throw StageFailure(.skipped, code: "template_disabled", "template '\(template.code)' is disabled")
            }
            if delivery.address.isEmpty {
                throw StageFailure(.skipped, code: "no_address",
                                   "no \(delivery.channel.addressColumn) for the \(delivery.channel.rawValue) channel")
            }
            switch AddressValidation.normalize(delivery.address, for: delivery.channel) {
            case let .success(address): delivery.address = address
            case let .failure(failure): throw failure
            }
            if delivery.channel == .mail {
                for (column, addresses) in [("cc", job.row.mail.cc), ("bcc", job.row.mail.bcc)] {
                    for address in addresses {
                        if let problem = AddressValidation.emailProblem(address) {
                            throw StageFailure(.invalid, code: "invalid_\(column)", "\(column) '\(address)' is not a valid address: \(problem)")
                        }
                    }
                }
            }
            if let name = renderer.missingParameter(template, parameters: job.row.parameters) {
                throw StageFailure(.invalid, code: "missing_parameter",
                                   "missing required parameter '\(name)' for template '\(template.code)'; fill the \(name) column or declare a default")
            }
        }
    }

    /// **render**: renders each delivery's variant for the recipient's locale. For mail, adds
    /// the row's attachments and unsubscribe link and, with a policy, checks every attachment is
    /// a file inside the workspace and the message fits its account's `max_size`.
    public static func render(with renderer: TemplateRenderer, attachments policy: AttachmentPolicy? = nil) -> PipelineStage {
        .eachDelivery(.render) { job, delivery throws(StageFailure) in
            guard let template = job.template else { return }
            switch renderer.render(template, channel: delivery.channel, parameters: job.row.parameters, locale: job.row.recipient.locale) {
            case var .success(message):
                if case var .wechatMini(wechat) = message.content {
                    // Subscribe messages are refused by WeChat (47003) when a value breaks its type's rule: check first.
                    let truncate = template.variants(for: job.row.recipient.locale, channel: .wechatMini).variants.wechatMini?.truncate ?? false
                    for index in wechat.data.indices {
                        switch SubscribeValueRules.check(key: wechat.data[index].key, value: wechat.data[index].value, truncate: truncate) {
                        case let .success(value): wechat.data[index].value = value
                        case let .failure(failure): throw failure
                        }
                    }
                    message.content = .wechatMini(wechat)
                }
                if case var .mail(mail) = message.content {
                    mail.attachments += job.row.mail.attachments
                    mail.unsubscribe = job.row.mail.unsubscribeURL ?? mail.unsubscribe
                    if let link = mail.unsubscribe, let problem = UnsubscribeLink.problem(link) {
                        throw StageFailure(.invalid, code: "invalid_unsubscribe_url", problem)
                    }
                    if let policy, let failure = policy.check(mail) { throw failure }

                    message.content = .mail(mail)
                }
                delivery.message = message
                delivery.account = Self.account(of: message)
            case let .failure(error):
                throw StageFailure(.invalid, code: error.missingParameter == nil ? "render_failed" : "missing_parameter", error.description)
            }
        }
    }

    static func account(of message: RenderedMessage) -> String {
        switch message.content {
        case .site: "site"
        case let .mail(mail): mail.account
        case let .sms(sms): sms.channels.first ?? ""
        case let .wechatMP(wechat), let .wechatMini(wechat): wechat.app
        }
    }

}

extension Job {
    /// Ends the whole row with `failure` in `stage`.
    mutating func fail(_ stage: StageName, _ failure: StageFailure) {
        self.failure = error(stage, failure)
        failureStatus = failure.status
    }
}

/// Remembers, per batch id, whether the ledger held any of its messages before this run.
final class BatchHistory: @unchecked Sendable {
    private let lock = NSLock()
    private var known: [String: Bool] = [:]

    func knew(_ batch: String, ledger: any Ledger) throws -> Bool {
        if let answer = lock.withLock({ known[batch] }) { return answer }
        let answer = try ledger.knows(batch: batch)
        lock.withLock { known[batch] = answer }
        return answer
    }

    func reset() {
        lock.withLock { known.removeAll() }
    }
}

/// One shared reference per template of a catalog.
final class TemplateReferences: Sendable {
    private let references: [String: TemplateReference]

    init(_ catalog: TemplateCatalog) {
        references = catalog.templates.mapValues(TemplateReference.init)
    }

    func reference(for template: Template) -> TemplateReference {
        references[template.code] ?? TemplateReference(template)
    }
}
