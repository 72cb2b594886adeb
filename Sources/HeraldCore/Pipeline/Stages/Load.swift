import Foundation
import Synchronization

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
                // What the batch's history says holds only for chunks no other worker had: a
                // retaken chunk is always looked up (its first worker may have sent part of it).
                let fromSpool = jobs.contains { $0.deliveries.contains { $0.spooled != nil } }
                let retaken = jobs.contains(where: \.isRetaken)
                let mayHold = fromSpool || retaken ? true : try await history.knew(batch, ledger: ledger)
                guard mayHold else { return }
                let ids = jobs.flatMap { $0.deliveries.map(\.id) }
                let known = try await ledger.records(of: ids)
                for j in jobs.indices {
                    for d in jobs[j].deliveries.indices {
                        let delivery = jobs[j].deliveries[d]
                        guard let record = known[delivery.id] else { continue }
                        // A spooled message is itself `deferred` in the ledger; it is a duplicate
                        // only if it was sent meanwhile (recovered from the journal after a crash).
                        if delivery.spooled != nil {
                            if record.status.wasSent { jobs[j].deliveries[d].status = .duplicate }
                            // Cancelled after it was spooled (`herald schedule cancel`): it never goes.
                            if record.status == .cancelled {
                                jobs[j].deliveries[d].status = .cancelled
                                jobs[j].deliveries[d].error = jobs[j].error(.load, StageFailure(.cancelled, code: .cancelled,
                                    "cancelled with herald schedule cancel"))
                            }
                            continue
                        }
                        guard record.status.isHandedOver else { continue }
                        if let earlier = record.fingerprint, let now = delivery.fingerprint, earlier != now {
                            conflict(&jobs[j], delivery: d, record: record)
                        } else {
                            jobs[j].deliveries[d].status = .duplicate
                            jobs[j].deliveries[d].sentBy = record.worker
                        }
                    }
                }
            } catch {
                // Without the ledger nothing can be sent safely: fail the chunk, send nothing.
                for j in jobs.indices {
                    for d in jobs[j].deliveries.indices where jobs[j].deliveries[d].isPending {
                        jobs[j].deliveries[d].status = .failed
                        jobs[j].deliveries[d].error = jobs[j].error(.load, StageFailure(.failed, code: .ledgerUnavailable, "the ledger could not be read: \(error)"))
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
        job.deliveries[d].error = job.error(.load, StageFailure(.invalid, code: .idConflict,
            "batch id '\(job.batch.id)' was already used by \(earlier), whose row \(job.row.row) was \(record.status.rawValue) "
            + "as message \(delivery.id.value) with another template, address or parameters; this row was not sent. "
            + "Give a batch with new content a new id"))
    }

    private static func prepare(_ job: inout Job, catalog: TemplateCatalog, references: TemplateReferences) {
        let row = job.row
        if let (column, scalar, position) = row.controlCharacter {
            job.fail(.load, StageFailure(.invalid, code: .controlCharacter,
                "column '\(column)' holds the control character \(String(format: "U+%04X", scalar.value)) at character \(position); "
                + "remove it (only tab and line breaks are allowed in values)"))
            return
        }

        guard let code = row.template else {
            job.fail(.load, StageFailure(.invalid, code: .noTemplate, "the row names no template; fill the template column"))
            return
        }
        guard let reference = references.reference(code: code) else {
            var reason = "no template \(Echo.quoted(code)) in templates/"
            if let guess = Spelling.closest(to: code, among: catalog.codes) { reason += "; did you mean '\(guess)'?" }
            job.fail(.load, StageFailure(.invalid, code: .unknownTemplate, reason))
            return
        }
        job.templateReference = reference
        let template = reference.template
        let used = template.parameterNames
        if row.parameters.keys.contains(where: { !used.contains($0) }) {
            job.extraParameters = row.parameters.filter { !used.contains($0.key) }
        }

        var channels: [Channel] = []
        if let requested = row.channels {
            for name in requested {
                guard let channel = Channel(rawValue: name) else {
                    let known = Channel.allCases.map(\.rawValue)
                    var reason = "unknown channel \(Echo.quoted(name)); use \(known.joined(separator: ", "))"
                    if let guess = Spelling.closest(to: name, among: known) { reason = "unknown channel '\(name)'; did you mean '\(guess)'?" }
                    job.fail(.load, StageFailure(.invalid, code: .unknownChannel, reason))
                    return
                }
                guard template.channels.contains(channel) else {
                    job.fail(.load, StageFailure(.invalid, code: .noVariant,
                        "template '\(code)' has no \(channel.rawValue) variant; it has \(template.channels.map(\.rawValue).joined(separator: ", "))"))
                    return
                }
                if !channels.contains(channel) { channels.append(channel) }
            }
        } else {
            channels = reference.channels.filter { row.recipient.address(for: $0) != nil || robot(of: template, for: row, $0) != nil }
            if channels.isEmpty {
                let needed = template.channels.map(\.addressColumn).joined(separator: ", ")
                job.fail(.load, StageFailure(.skipped, code: .noAddress,
                    "the row has no address for any channel of '\(code)'; fill one of \(needed)"))
                return
            }
        }
        job.deliveries = channels.map { channel in
            let address = robot(of: template, for: row, channel).map(ChatVariant.robotAddress) ?? row.recipient.address(for: channel) ?? ""
            var delivery = Delivery(id: job.batch.messageID(row: row.row, channel: channel.rawValue), channel: channel, address: address)
            delivery.fingerprint = MessageFingerprint.of(template: code, channel: channel, address: address, parameters: row.parameters)
            return delivery
        }
        // A row of a digest template validates and renders like any; the digest message fills
        // these in with the real count and items.
        if template.digest != nil && !job.isDigest {
            for (name, value) in [("digest_count", "1"), ("digest_items", "-")] where (job.row.parameters[name] ?? "").isEmpty {
                job.row.parameters[name] = value
            }
        }
        // Variants of an `escalate:` step wait for the row's first messages; a row with no first
        // message (no address for it) has nothing to wait for, and sends them at once.
        let first = template.escalations.isEmpty ? []
            : job.deliveries.filter { template.escalation(holding: $0.channel) == nil }.map(\.id.value)
        if !first.isEmpty {
            for d in job.deliveries.indices {
                guard let rule = template.escalation(holding: job.deliveries[d].channel) else { continue }
                job.deliveries[d].escalation = EscalationCheck(firstMessages: first, unless: rule.unless)
                job.deliveries[d].escalateAfter = rule.after
            }
        }

    }

    /// The group robot a row's 企业微信 or 钉钉 message goes to, when its variant names one: robots
    /// have no per-row address.
    private static func robot(of template: Template, for row: RecipientRow, _ channel: Channel) -> String? {
        template.variants(for: row.recipient.locale, channel: channel).variants.chat(channel)?.robot
    }

    /// **validate**: the template is enabled, each address is well formed (and normalised),
    /// every required parameter has a value.
}

/// Remembers, per batch id, whether the ledger held any of its messages before this run.
final class BatchHistory: Sendable {
    private let known = Mutex<[String: Bool]>([:])

    func knew(_ batch: String, ledger: any Ledger) async throws -> Bool {
        if let answer = known.withLock({ $0[batch] }) { return answer }
        let answer = try await ledger.knows(batch: batch)
        known.withLock { $0[batch] = answer }
        return answer
    }

    func reset() {
        known.withLock { $0.removeAll() }
    }
}

/// One shared reference per template of a catalog.
final class TemplateReferences: Sendable {
    private let references: [String: TemplateReference]

    init(_ catalog: TemplateCatalog) {
        references = catalog.templates.mapValues(TemplateReference.init)
    }

    /// The reference of the catalog's template `code`, or nil when there is none.
    func reference(code: String) -> TemplateReference? {
        references[code]
    }

    func reference(for template: Template) -> TemplateReference {
        references[template.code] ?? TemplateReference(template)
    }
}
