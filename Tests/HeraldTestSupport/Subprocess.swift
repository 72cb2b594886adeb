import Foundation

/// What a finished child process left behind.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// How the tests make pipes and start children, since tests run in parallel in one process: each
/// pipe end is close-on-exec (the child still gets its own as standard input or output), and
/// making a pipe and starting a child never interleave. Otherwise a child started by one test
/// inherits another test's pipe ends, and that test waits for an end of file that never comes
/// (seen: a suite that hung for 13 minutes on a finished `herald run` whose stdout a concurrently
/// started `herald serve` held open).
public enum Spawn {
    private static let lock = NSLock()

    /// A pipe whose ends no other child inherits.
    public static func pipe() -> Pipe {
        lock.withLock {
            let pipe = Pipe()
            for fd in [pipe.fileHandleForReading.fileDescriptor, pipe.fileHandleForWriting.fileDescriptor] {
                _ = fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC)
            }
            return pipe
        }
    }

    /// Starts `process` while no pipe is being made.
    public static func start(_ process: Process) throws {
        try lock.withLock { try process.run() }
    }
}

/// Runs `executable` with `arguments`, feeding `input` on standard input, and waits.
public func runProcess(_ executable: URL, _ arguments: [String], input: Data? = nil,
                       currentDirectory: URL? = nil, environment: [String: String]? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    if let environment { process.environment = environment }
    let stdout = Spawn.pipe(), stderr = Spawn.pipe(), stdin = Spawn.pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin
    try Spawn.start(process)
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
public func startHerald(_ arguments: [String], in workspace: URL, environment: [String: String] = [:],
                        stderr: URL? = nil) throws -> Process {
    let process = Process()
    process.executableURL = heraldExecutable()
    process.arguments = arguments
    process.currentDirectoryURL = workspace
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    }
    process.standardOutput = FileHandle.nullDevice
    if let stderr {
        FileManager.default.createFile(atPath: stderr.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: stderr)
    } else {
        process.standardError = FileHandle.nullDevice
    }
    try Spawn.start(process)
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

extension Process {
    /// Sends SIGTERM and waits at most `limit` for the process to exit. One still running then
    /// is killed (SIGKILL) and false is returned: a test that expected the exit fails, and the
    /// run goes on instead of waiting forever (`waitUntilExit` alone would).
    public func terminates(within limit: Duration = .seconds(30)) -> Bool {
        terminate()
        let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
        if waitUntil(seconds: seconds, { !isRunning }) { return true }
        kill(processIdentifier, SIGKILL)
        waitUntilExit()
        return false
    }
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; returns whether it held. Tests
/// wait for what they need to see with this, never for a fixed time.
@discardableResult
public func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        if Date() >= deadline { return false }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return true
}
