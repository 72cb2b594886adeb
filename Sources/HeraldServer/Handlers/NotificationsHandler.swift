import Foundation
import HeraldCore
import HeraldInbox
import HTTPTypes
import Hummingbird

/// `POST /v1/notifications`.
extension HeraldServer {
    func notify(_ request: Request, _ context: HeraldRequestContext) async throws -> Response {
        guard let tenant = context.access.tenant, let client = context.access.client else {
            throw APIError.unauthorized("no client authenticated")
        }
        let body = Data(buffer: try await collect(request, context))
        let key = request.headers.first { $0.name.canonicalName == "idempotency-key" }?.value
        var ingest = NotificationIngest(workspace: workspace)
        if let sharedIngest {
            ingest.queue = sharedIngest.queue
            ingest.records = sharedIngest.records
            ingest.worker = sharedIngest.worker
        }
        let outcome = try await ingest.accept(body, key: key, tenant: tenant, client: client)
        func json(_ status: HTTPResponse.Status, _ body: some Encodable, replayed: Bool = false) throws -> Response {
            let data = try JSONEncoder.inbox().encode(body)
            var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
            if replayed, let name = HTTPField.Name("Idempotent-Replayed") { headers[name] = "true" }
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        switch outcome {
        case let .accepted(answer, replayed):
            context.logger.info("notifications accepted", metadata: ["batch": .string(answer.batch),
                                                                     "replayed": .stringConvertible(replayed)])
            return try json(.accepted, answer, replayed: replayed)
        case let .conflict(code, message):
            throw APIError(status: .conflict, code: code, message: message)
        case let .rejected(status, code, message, rows):
            guard status == 422 else { throw APIError.badRequest(message) }
            return try json(.unprocessableContent, RejectedBody(error: .init(code: code, message: message, rows: rows)))
        }
    }
}

/// The 422 body of `POST /v1/notifications`: `{"error": {"code", "message", "rows": [...]}}`.
struct RejectedBody: Encodable {
    struct Detail: Encodable {
        var code: String
        var message: String
        var rows: [NotificationIngest.RowProblem]
    }

    var error: Detail
}
