import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `herald serve --bind 127.0.0.1:0` running in a workspace: started, asked for the port it
/// printed, spoken to over real HTTP, and stopped with SIGTERM.
public final class ServeProcess: @unchecked Sendable {
    public let port: Int
    private let process: Process
    private let output: Pipe
    private let errors: PipeReader
    private var firstLine: String

    /// Starts the server; throws when it exits or prints no `listening on` line.
    public init(workspace: URL, environment: [String: String] = [:], arguments: [String] = []) throws {
        process = Process()
        process.executableURL = heraldExecutable()
        process.arguments = ["serve", "--bind", "127.0.0.1:0"] + arguments
        process.currentDirectoryURL = workspace
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        output = Spawn.pipe()
        let errorPipe = Spawn.pipe()
        process.standardOutput = output
        process.standardError = errorPipe
        try Spawn.start(process)
        errors = PipeReader(errorPipe.fileHandleForReading)
        let line = readThroughFirstLine(output.fileHandleForReading)
        firstLine = String(decoding: line, as: UTF8.self)
        guard let portText = firstLine.split(separator: ":").last?.trimmingCharacters(in: .whitespacesAndNewlines),
              firstLine.hasPrefix("herald serve: listening on "), let port = Int(portText) else {
            process.waitUntilExit()
            throw ServeError(message: "herald serve did not start: \(firstLine)\(String(decoding: errors.finish(), as: UTF8.self))")
        }
        self.port = port
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// One HTTP exchange.
    public struct Reply: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String
        /// The body as a JSON object.
        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
        }
    }

    /// Sends a request to the server on 127.0.0.1.
    public func request(_ method: String, _ path: String, token: String? = nil, tenant: String? = nil,
                        headers: [String: String] = [:], body: Data? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let tenant { request.setValue(tenant, forHTTPHeaderField: "X-Tenant-Id") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            fields[String(describing: name).lowercased()] = String(describing: value)
        }
        return Reply(status: http.statusCode, headers: fields, body: String(decoding: data, as: UTF8.self))
    }

    /// Sends SIGTERM and waits; returns the exit status, standard output and the JSON log lines.
    public func stop(signal: Int32 = SIGTERM) -> ProcessResult {
        if process.isRunning { kill(process.processIdentifier, signal) }
        let rest = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = errors.finish()
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus, stdout: firstLine + String(decoding: rest, as: UTF8.self),
                             stderr: String(decoding: errorText, as: UTF8.self))
    }
}

/// The server did not start.
public struct ServeError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
