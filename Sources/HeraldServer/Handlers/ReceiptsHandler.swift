import Foundation
import HeraldCore
import HeraldInbox
import HTTPTypes
import Hummingbird

/// Provider receipt callbacks (`POST /v1/receipts/{channel}/{secret}`).
extension HeraldServer {
    func receipt(_ request: Request, _ context: HeraldRequestContext) async throws -> Response {
        let channel = try context.parameters.require("channel")
        let given = try context.parameters.require("secret")
        // A wrong secret looks exactly like a path that does not exist, and writes nothing.
        guard let secret = settings.receiptSecret, !secret.value.isEmpty, constantTimeEqual(given, secret.value) else {
            throw APIError.notFound("no such endpoint")
        }
        let files = ReceiptFiles(root: workspace.root, configuration: workspace.configuration, parsers: receiptParsers)
        let format: any ReceiptParser
        do {
            format = try files.format(channel: channel)
        } catch {
            throw APIError.notFound("no such endpoint")
        }
        let body = Data(buffer: try await collect(request, context))
        let accepted: (kept: String, receipts: Int)
        do {
            if let receiptQueue {
                // Shared store: the push becomes a row any worker ingests (checked first, as a file would be).
                let count = try format.parse(body, channel: channel).count
                let at = now()
                try await receiptQueue.put(channel: channel, body: body, at: at)
                accepted = ("herald_receipts", count)
            } else {
                let file = try await blocking { try files.accept(body, channel: channel, now: now()) }
                accepted = (file.file.lastPathComponent, file.receipts)
            }
        } catch let rejection as BatchRejection {
            throw APIError.badRequest("not a \(format.name) receipt push: \(rejection.reason)", code: "malformed_receipt")
        }
        context.logger.info("receipts stored", metadata: ["channel": .string(channel), "receipts": .stringConvertible(accepted.receipts),
                                                          "file": .string(accepted.kept)])
        return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: format.acknowledgement)))
    }
}
