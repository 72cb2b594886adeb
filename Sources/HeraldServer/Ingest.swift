import Crypto
import Foundation
import HeraldCore
import HeraldInbox

/// `POST /v1/notifications`: one row (shaped like a JSON-lines line) or a JSON batch object,
/// checked with the same rules as a dropped batch (load, validate, render), made durable in the
/// drop folder (tmp → fsync → rename, so a running `herald watch` takes it at once) before it is
/// answered. `Idempotency-Key` (or the body's `id`) names the batch within the client and
/// tenant that sent it (`BatchContext.ingestID`): the same key with the same body answers the same
/// ids again and writes nothing; with another body it is a conflict. Of requests racing with one
/// key exactly one is queued: the key is claimed (`IngestRecords`) before its batch is written.
struct NotificationIngest: Sendable {
    let workspace: Workspace
    /// With a PostgreSQL store: the batch is queued there (any worker sends it) instead of written
    /// into this server's drop folder, and keys are remembered there for every replica.
    var queue: (any WorkQueue)?
    var records: (any IngestRecords)?
    var worker = "serve"
    /// How long a claimed key whose batch is not queued yet is left to the request that claimed
    /// it; after that, a request with the same body finishes the job (its claimant died).
    var claimTimeout: Double = 60

    /// The 202 body: the batch id, its file name and each message id. Kept as text with the
    /// idempotency key and answered again, byte for byte, to a replay.
    struct Answer: Codable, Sendable {
        /// One message of the batch.
        struct Message: Codable, Sendable {
            var row: Int
            var channel: String
            var messageID: String

            enum CodingKeys: String, CodingKey {
                case row, channel
                case messageID = "message_id"
            }
        }

        var batch: String
        var file: String
        var messages: [Message]
    }

    /// A row (or one of its channels) that failed the batch rules: the 422 body's `rows`.
    struct RowProblem: Codable, Sendable {
        var row: Int
        var channel: String?
        var code: String
        var message: String
    }

    /// What the request gets.
    enum Outcome {
        /// Durable: 202 with the batch id and each message id.
        case accepted(Answer, replayed: Bool)
        /// The body is not a row or a batch (400), or a row failed the batch rules (422).
        case rejected(status: Int, code: String, message: String, rows: [RowProblem])
        /// The key was used with another body, or its first request is still being handled (409).
        case conflict(code: String, message: String)
    }

    private var paths: WorkspacePaths { workspace.paths }
    private var folder: URL { paths.root.appendingPathComponent("outbox/ingest", isDirectory: true) }

    func accept(_ body: Data, key: String?, tenant: String, client: String) async throws -> Outcome {
        let batch: [String: Any], declared: String?, id: String
        switch normalized(body, key: key, tenant: tenant, client: client) {
        case let .success(found): (batch, declared, id) = (found.batch, found.declared, found.id)
        case let .failure(rejection): return rejection.outcome
        }
        let canonical = try JSONSerialization.data(withJSONObject: batch, options: [.sortedKeys, .withoutEscapingSlashes])
        let bodyHash = Hex.encode(SHA256.hash(data: canonical))

        // Named like a dropped file: its template (when it names one) and a hash of its bytes.
        let template = (batch["template"] as? String) ?? ((batch["recipients"] as? [Any])?.first as? [String: Any])?["template"] as? String ?? "api"
        let code = template.range(of: "^[a-z0-9_]{1,64}$", options: .regularExpression) != nil ? template : "api"
        let name = IngestBatchFile.name(template: code, bytes: canonical)
        let read: [BatchRecord], messages: [Answer.Message]
        switch try await checked(canonical, name: name, id: id) {
        case let .success(found): (read, messages) = (found.read, found.messages)
        case let .failure(rejection): return rejection.outcome
        }
        let response = Answer(batch: id, file: name, messages: messages)
        let records = self.records ?? FileIngestRecords(folder: folder)
        if let declared {
            let text = String(decoding: try JSONEncoder.inbox().encode(response), as: UTF8.self)
            switch try await records.claim(key: id, bodyHash: bodyHash, response: text) {
            case .won:
                break
            case let .taken(hash, earlier, settled, age):
                guard hash == bodyHash, let answer = try? JSONDecoder().decode(Answer.self, from: Data(earlier.utf8)) else {
                    return .conflict(code: "idempotency_conflict", message: "Idempotency-Key '\(declared)' was used with another body; nothing was queued")
                }
                if !settled && age < claimTimeout {
                    return .conflict(code: "idempotency_in_progress",
                                     message: "a request with Idempotency-Key '\(declared)' and this body is still being queued; retry shortly")
                }
                if !settled {
                    // Its claimant died between the claim and the queue: queue the same batch
                    // (the same id, so nothing is sent twice) and settle the key.
                    try await enqueue(canonical, records: read, id: id, name: name, code: code)
                    try await records.settle(key: id)
                }
                return .accepted(answer, replayed: true)
            }
        }
        try await enqueue(canonical, records: read, id: id, name: name, code: code)
        if declared != nil { try await records.settle(key: id) }
        return .accepted(response, replayed: false)
    }

    /// Reads the canonical batch back through the batch reader, then loads, validates and
    /// renders every row without sending: the rules a dropped file is held to.
    private func checked(_ canonical: Data, name: String, id: String) async throws
        -> Result<(read: [BatchRecord], messages: [Answer.Message]), Rejection> {
        // Read back under its own name (which lets it carry an `api:` id), in a folder of its own.
        let scratch = folder.appendingPathComponent("tmp/\(UUID().uuidString.lowercased())", isDirectory: true)
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let probe = scratch.appendingPathComponent(name)
        try canonical.write(to: probe)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let context = BatchContext(id: id, file: "api")
        var jobs: [Job] = []
        var read: [BatchRecord] = []
        do {
            let reader = try BatchReaders.open(probe, catalog: workspace.catalog)
            while let record = try reader.next() {
                read.append(record)
                jobs.append(BatchRunner.job(for: record, batch: context))
            }
        } catch let rejection as BatchRejection {
            return .failure(Rejection(status: 422, code: "invalid", message: rejection.reason, rows: []))
        }
        let pipeline = Pipeline([
            .load(from: workspace.catalog, ledger: nil),
            .validate(using: workspace.renderer, timeZone: workspace.configuration.timeZone),
            .render(with: workspace.renderer, attachments: AttachmentPolicy(workspace: workspace), contentRules: workspace.contentRules),
        ])
        var checked = jobs
        try await pipeline.run(&checked)
        var problems: [RowProblem] = []
        var messages: [Answer.Message] = []
        for job in checked {
            if let failure = job.failure {
                problems.append(RowProblem(row: job.row.row, code: failure.code.rawValue, message: failure.reason))
                continue
            }
            for delivery in job.deliveries {
                if let error = delivery.error, delivery.status != nil {
                    problems.append(RowProblem(row: job.row.row, channel: delivery.channel.rawValue, code: error.code.rawValue, message: error.reason))
                } else {
                    messages.append(Answer.Message(row: job.row.row, channel: delivery.channel.rawValue, messageID: delivery.id.value))
                }
            }
        }
        guard problems.isEmpty else {
            return .failure(Rejection(status: 422, code: "invalid", message: "\(problems.count) problem\(problems.count == 1 ? "" : "s"); nothing was queued",
                                      rows: problems))
        }
        return .success((read, messages))
    }

    /// A request the batch rules refused before any row was read: 400 or 422.
    struct Rejection: Error {
        var status: Int
        var code: String
        var message: String
        var rows: [RowProblem]

        var outcome: Outcome { .rejected(status: status, code: code, message: message, rows: rows) }
    }

    /// The body as one batch object, with this request's tenant on every row, reserved keys
    /// under the names the batch reader gives them, and the batch id made from the key.
    private func normalized(_ body: Data, key: String?, tenant: String, client: String)
        -> Result<(batch: [String: Any], declared: String?, id: String), Rejection> {
        // The rules a dropped file is read by (UTF-8, strict syntax, no key twice), before any parser forgives.
        if let problem = StrictJSON.problem(in: body) {
            return .failure(Rejection(status: 400, code: "bad_request", message: problem, rows: []))
        }
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return .failure(Rejection(status: 400, code: "bad_request", message: "the body must be a JSON object: one row, or a batch with \"recipients\"", rows: []))
        }
        // One row, or a batch: either way a batch object, with this request's tenant.
        var batch: [String: Any]
        if let recipients = object["recipients"] {
            guard let list = recipients as? [Any], !list.isEmpty else {
                return .failure(Rejection(status: 422, code: "invalid", message: "\"recipients\" must be a non-empty array of row objects", rows: []))
            }
            guard list.count <= 10_000 else {
                return .failure(Rejection(status: 422, code: "invalid", message: "at most 10000 recipients per request; drop a batch file for more", rows: []))
            }
            batch = object
        } else {
            batch = ["recipients": [object]]
        }
        var rows = (batch["recipients"] as? [Any]) ?? []
        for index in rows.indices {
            guard let given = rows[index] as? [String: Any] else {
                return .failure(Rejection(status: 422, code: "invalid", message: "recipient \(index + 1) is not a JSON object", rows: []))
            }
            // Reserved keys under the names the batch reader gives them (it takes any case), so
            // the tenant checked here is the tenant the row is stored under.
            var row: [String: Any] = [:]
            for name in given.keys.sorted() {
                let key = ReservedColumn.canonical(name)
                if row[key] != nil {
                    return .failure(Rejection(status: 422, code: "invalid",
                                     message: "recipient \(index + 1) names the reserved key '\(key)' twice, in different cases", rows: []))
                }
                row[key] = given[name]
            }
            if let given = row["tenant_id"].map({ "\($0)" }), given != tenant {
                return .failure(Rejection(status: 422, code: "invalid",
                                 message: "recipient \(index + 1) names tenant_id \(given), but the request is for tenant \(tenant) (X-Tenant-Id)", rows: []))
            }
            row["tenant_id"] = tenant
            rows[index] = row
        }
        batch["recipients"] = rows
        let declared = key ?? (batch["id"] as? String) ?? (batch["id"] as? Int).map(String.init)
        if batch["id"] != nil && key == nil && declared == nil {
            return .failure(Rejection(status: 400, code: "bad_request", message: "the batch \"id\" must be a string or a number", rows: []))
        }
        if let declared, let problem = BatchContext.declaredIDProblem(declared) {
            return .failure(Rejection(status: 400, code: "bad_request", message: "\(key != nil ? "Idempotency-Key" : "\"id\""): \(problem)", rows: []))
        }
        let id = declared.map { BatchContext.ingestID(tenant: tenant, client: client, key: $0) } ?? "api:\(UUID().uuidString.lowercased())"
        batch["id"] = id
        return .success((batch, declared, id))
    }

    /// Makes the batch durable before the answer: queued in PostgreSQL for any worker (a batch id
    /// queued before is not queued again), or the batch file in the drop folder.
    private func enqueue(_ canonical: Data, records read: [BatchRecord], id: String, name: String, code: String) async throws {
        guard let queue else {
            try DurableFile.write(canonical, to: paths.dropFolder.appendingPathComponent(name))
            return
        }
        let size = workspace.configuration.chunkSize
        let priority = workspace.catalog[code]?.category.priority ?? TemplateCategory.transactional.priority
        var chunks = stride(from: 0, to: read.count, by: size).map { Array(read[$0..<min(read.count, $0 + size)]) }.makeIterator()
        _ = try await queue.enqueue(batch: BatchContext(id: id, file: name), worker: worker) { chunks.next().map { ($0, priority) } }
    }
}
