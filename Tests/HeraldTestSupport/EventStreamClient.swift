import Foundation

/// A Server-Sent Events client in a child Python process (standard library only): connects to
/// `http://127.0.0.1:port/path` with the given headers, reads for `seconds`, and reports every
/// event with the time it arrived. Started before the action it should observe; `finish()` waits.
public final class EventStreamClient: @unchecked Sendable {
    /// One event as received.
    public struct Event: Decodable, Sendable {
        public var id: String?
        public var event: String?
        public var data: String
        /// Seconds since 1970 when it arrived.
        public var at: Double
        /// `data` decoded as a JSON object.
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]) ?? [:] }
    }

    static let script = #"""
        import json, select, socket, sys, time
        port, path, seconds, until = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
        headers = sys.argv[5:]
        s = socket.create_connection(("127.0.0.1", port))
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
        s.sendall(request.encode())
        s.settimeout(0.05)
        print(json.dumps({"ready": time.time()}), flush=True)
        buffer, end = b"", time.time() + seconds
        while time.time() < end:
            if select.select([sys.stdin], [], [], 0)[0]:
                break  # standard input closed: stop() asked to stop
            try:
                chunk = s.recv(65536)
                if not chunk: break
                buffer += chunk
            except socket.timeout:
                pass
            while b"\n\n" in buffer:
                block, buffer = buffer.split(b"\n\n", 1)
                lines = block.decode().split("\n")
                if lines and lines[0].startswith("HTTP/"):
                    status = int(lines[0].split()[1])
                    print(json.dumps({"status": status}), flush=True)
                    continue
                event = {"at": time.time(), "data": ""}
                for line in lines:
                    if line.startswith("id: "): event["id"] = line[4:]
                    elif line.startswith("event: "): event["event"] = line[7:]
                    elif line.startswith("data: "): event["data"] = line[6:]
                if "event" in event:
                    print(json.dumps(event), flush=True)
                    if until and event["event"] == until: end = min(end, time.time() + 0.3)
        """#

    private let process = Process()
    private let output = Spawn.pipe()
    private let input = Spawn.pipe()

    /// Connects and starts reading; returns once the request was sent.
    /// Reads for at most `seconds`, or until just after an event named `until` arrives.
    public init(port: Int, path: String, headers: [String], seconds: Double, until: String = "") throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, String(port), path, String(seconds), until] + headers
        process.standardOutput = output
        process.standardInput = input
        process.standardError = FileHandle.standardError
        try Spawn.start(process)
        let line = readThroughFirstLine(output.fileHandleForReading)
        pending = line.split(separator: 0x0A, omittingEmptySubsequences: true).dropFirst().map { Data($0) }
    }

    private var pending: [Data]
    private var partial = Data()

    /// Waits until the first event has arrived (the server has subscribed this stream by then),
    /// instead of sleeping and hoping; false when the stream ended first.
    @discardableResult
    public func waitForFirstEvent() -> Bool {
        func hasEvent() -> Bool { pending.contains { (try? JSONDecoder().decode(Event.self, from: $0)) != nil } }
        while !hasEvent() {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return false }
            partial += chunk
            while let newline = partial.firstIndex(of: 0x0A) {
                let line = partial[partial.startIndex..<newline]
                if !line.isEmpty { pending.append(Data(line)) }
                partial = Data(partial[partial.index(after: newline)...])
            }
        }
        return true
    }

    /// Stops reading now; returns what came.
    public func stop() -> (status: Int?, events: [Event]) {
        try? input.fileHandleForWriting.close()
        return finish()
    }

    /// Waits for the reading time to end; returns the HTTP status and the events.
    public func finish() -> (status: Int?, events: [Event]) {
        let rest = partial + output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var status: Int?
        var events: [Event] = []
        for line in pending + rest.split(separator: 0x0A).map({ Data($0) }) {
            if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any], let code = object["status"] as? Int {
                status = code
            } else if let event = try? JSONDecoder().decode(Event.self, from: line) {
                events.append(event)
            }
        }
        return (status, events)
    }
}
