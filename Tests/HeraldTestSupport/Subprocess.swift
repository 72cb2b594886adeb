import Foundation

/// What a finished child process left behind.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `executable` with `arguments`, feeding `input` on standard input, and waits.
public func runProcess(_ executable: URL, _ arguments: [String], input: Data? = nil,
                       currentDirectory: URL? = nil, environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    if let environment { process.environment = environment }
    let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(input) }
    try stdin.fileHandleForWriting.close()
    // Drain stderr on another thread while reading stdout, so a chatty child never blocks.
    let errorReader = PipeReader(stderr.fileHandleForReading)
    let outData = stdout.fileHandleForReading.readDataToEndOfFile()
    let errData = errorReader.finish()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// The built `herald` executable, beside the test bundle in the build products folder.
public func heraldExecutable() -> URL {
    if let path = ProcessInfo.processInfo.environment["HERALD_BIN"] {
        return URL(fileURLWithPath: path)
    }
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = folder.appendingPathComponent("herald")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        folder.deleteLastPathComponent()
    }
    return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("herald")
}

/// Runs `herald` with `arguments` in `workspace`, with `environment` added to this process's.
public func runHerald(_ arguments: [String], in workspace: URL, environment: [String: String] = [:]) throws -> ProcessResult {
    let merged = environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    return try runProcess(heraldExecutable(), arguments, currentDirectory: workspace, environment: merged)
}

/// Starts `herald` with `arguments` in `workspace` (with `environment` added to this process's),
/// output discarded, and returns the running process.
public func startHerald(_ arguments: [String], in workspace: URL, environment: [String: String] = [:]) throws -> Process {
    let process = Process()
    process.executableURL = heraldExecutable()
    process.arguments = arguments
    process.currentDirectoryURL = workspace
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// Runs a Python 3 script given inline, with `arguments`.
public func runPython(_ script: String, _ arguments: [String] = [], input: Data? = nil) throws -> ProcessResult {
    try runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script] + arguments, input: input)
}

/// Reads a pipe to its end on a background thread.
final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func finish() -> Data {
        done.wait()
        return data
    }
}

/// What a child process printed up to and including its first newline (and whatever came in the
/// same read); less only when the pipe closed first. Blocks until then.
public func readThroughFirstLine(_ handle: FileHandle) -> Data {
    var read = Data()
    while !read.contains(0x0A) {
        let chunk = handle.availableData
        if chunk.isEmpty { break }
        read += chunk
    }
    return read
}
