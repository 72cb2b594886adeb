import Foundation

/// A test server written in Python, run as a child process: it writes its script into a fresh
/// folder, starts it, reads the `PORT n` line it prints once listening on 127.0.0.1, and stops
/// it (by closing its standard input) when the value goes away.
public final class LocalPythonServer: @unchecked Sendable {
    /// The port it listens on.
    public let port: Int
    /// The folder holding the script and whatever the server records.
    public let directory: URL
    private let process: Process
    private let input: Pipe

    /// Starts `script` (written into the folder, which it finds as its own) with `arguments`.
    public init(name: String, script: String, arguments: [String] = [], directory: URL? = nil) throws {
        let folder = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("herald-\(name)-\(UUID().uuidString)")
        self.directory = folder
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let scriptURL = folder.appendingPathComponent("server.py")
        try Data(script.utf8).write(to: scriptURL)
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scriptURL.path] + arguments
        input = Spawn.pipe()
        let output = Spawn.pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try Spawn.start(process)
        let line = readThroughFirstLine(output.fileHandleForReading)
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("PORT "), let port = Int(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw PythonError(message: "the \(name) test server did not start (is its Python package installed? run .ci/test): \(text)")
        }
        self.port = port
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the server and waits for it.
    public func stop() {
        guard process.isRunning else { return }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// The JSON lines the server appended to `file` in its folder, decoded.
    public func records<T: Decodable>(_ file: String, as type: T.Type) throws -> [T] {
        guard let text = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSONDecoder().decode(T.self, from: Data($0.utf8)) }
    }
}
