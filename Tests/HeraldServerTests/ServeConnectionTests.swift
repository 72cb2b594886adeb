import Foundation
import HeraldTestSupport
import Testing

/// `herald serve` against clients that open connections and never finish a request.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3))) struct ServeConnectionTests {
    /// A TCP connection to 127.0.0.1:`port` that has sent `bytes` and holds on.
    final class HalfRequest {
        let socket: Int32

        init(port: Int, bytes: String) throws {
            socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard connected == 0 else { throw ServeError(message: "connect failed: \(errno)") }
            _ = bytes.withCString { send(socket, $0, strlen($0), 0) }
        }

        deinit { close(socket) }

        /// Whether the server closed the connection within `seconds`.
        func closedByServer(within seconds: Int32) -> Bool {
            var poll = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard Glibc.poll(&poll, 1, seconds * 1000) == 1 else { return false }
            var byte: UInt8 = 0
            return recv(socket, &byte, 1, 0) <= 0
        }
    }

    @Test func halfSentRequestsAreClosedAndHealthzStillAnswers() async throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "timezone: Asia/Shanghai\nserve: {idle_timeout: 1s, max_connections: 20}\n",
            "templates/hello.yaml": "site: {content: 你好}\n",
        ])
        let server = try ServeProcess(workspace: workspace.url)
        // Three times the connection cap, each stuck in the middle of its request header.
        let stuck = try (0..<60).map { _ in try HalfRequest(port: server.port, bytes: "GET /healthz HTTP/1.1\r\nHo") }
        // Served once the idle timeout has closed the stuck connections ahead of it (three waves of
        // 20, about 3 s). No wall-clock bound: on a loaded machine the waves come late, and a server
        // that never closed them would hang this request into the suite's time limit instead.
        let health = try await server.request("GET", "/healthz", token: nil)
        #expect(health.status == 200)
        // poll returns as soon as the server closes; the minute only bounds a server that never does.
        #expect(stuck.prefix(20).allSatisfy { $0.closedByServer(within: 60) }, "the server closes connections that never finish a request")
    }
}
