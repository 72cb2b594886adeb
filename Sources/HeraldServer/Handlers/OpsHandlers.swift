import Foundation
import HeraldCore
import HeraldInbox
import HeraldReports
import HTTPTypes
import Hummingbird

/// `/healthz` and `/metrics`.
extension HeraldServer {
    func health() async throws -> Response {
        do {
            _ = try await store.unreadCount(tenant: "0", user: "", now: now())
            return JSON.response(["status": "ok", "version": HeraldVersion.current])
        } catch {
            return JSON.response(["status": "unavailable", "reason": "\(error)"], status: .serviceUnavailable)
        }
    }

    func metrics() async throws -> Response {
        let root = workspace.root, zone = workspace.configuration.timeZone
        let text = try await blocking { try MetricsFile.update(root: root, timeZone: zone) }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
