import Foundation
import HeraldTestSupport
import Testing

/// `herald serve` against clients that open connections and never finish a request.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3))) struct ServeConnectionTests {
    @Test func halfSentRequestsAreClosedAndHealthzStillAnswers() async throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "timezone: Asia/Shanghai\nserve: {idle_timeout: 1s, max_connections: 20}\n",
            "templates/hello.yaml": "site: {content: 你好}\n",
        ])
        let server = try ServeProcess(workspace: workspace.url)
        // Three times the connection cap, each stuck in the middle of its request header.
        let stuck = try (0..<60).map { _ in try RawConnection(port: server.port, sending: "GET /healthz HTTP/1.1\r\nHo") }
        // Served once the idle timeout has closed the stuck connections ahead of it (three waves of
        // 20, about 3 s). No wall-clock bound: on a loaded machine the waves come late, and a server
        // that never closed them would hang this request into the suite's time limit instead.
        let health = try await server.request("GET", "/healthz", token: nil)
        #expect(health.status == 200)
        // poll returns as soon as the server closes; the minute only bounds a server that never does.
        #expect(stuck.prefix(20).allSatisfy { $0.closedByServer(within: 60, silently: true) }, "the server closes connections that never finish a request")
    }
}
