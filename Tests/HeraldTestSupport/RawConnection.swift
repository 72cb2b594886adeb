import Foundation

/// A TCP connection to 127.0.0.1 that sends some bytes and then never reads: the hostile or
/// broken client a server must not let hold its connections, grow its memory or delay its
/// shutdown (a request never finished, a stream never read).
public final class RawConnection: @unchecked Sendable {
    private let socket: Int32

    /// Connects to 127.0.0.1:`port` and sends `text`. With `receiveBuffer` the socket's receive
    /// buffer is made that small, so the server's writes stall after a few kilobytes.
    public init(port: Int, sending text: String, receiveBuffer: Int32? = nil) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw ServeError(message: "socket: \(String(cString: strerror(errno)))") }
        if var size = receiveBuffer {
            setsockopt(socket, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw ServeError(message: "connect: \(String(cString: strerror(errno)))")
        }
        _ = text.utf8CString.withUnsafeBufferPointer { send(socket, $0.baseAddress, $0.count - 1, 0) }
    }

    /// A stream request (`GET path` with `headers`) whose answer is never read.
    public static func stalledStream(port: Int, path: String, headers: [String]) throws -> RawConnection {
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n"
        return try RawConnection(port: port, sending: request, receiveBuffer: 4096)
    }

    deinit { close(socket) }

    /// Reads everything the server sent and says whether the server closed the connection
    /// (end of stream or a reset) within `seconds`; false when it is still open then, or, when
    /// `silently`, when the server sent anything before closing.
    public func closedByServer(within seconds: Double, silently: Bool = false) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            var poll = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard Glibc.poll(&poll, 1, 100) >= 0 else { return false }
            guard poll.revents != 0 else { continue }
            let count = recv(socket, &buffer, buffer.count, 0)
            if count == 0 || (count < 0 && errno == ECONNRESET) { return true }
            if silently && count > 0 { return false }
        }
        return false
    }
}
