import Foundation
import Synchronization

/// Replaces a file all at once: the bytes go to a temporary file that is fsynced and then
/// renamed over the destination, so a reader (or a crash) sees the old file or the new one,
/// never half of either.
///
/// ```swift
/// try DurableFile.write(Data("ok".utf8), to: reports.appendingPathComponent("metrics.prom"))
/// ```
public enum DurableFile {
    private static let writes = WriteCounter()

    /// Writes `data` to `url`. The temporary file is `tmpFolder/NAME.PID.N.tmp` (beside the
    /// destination, as `.NAME.PID.N.tmp`, when `tmpFolder` is nil), N counting this process's
    /// writes, so two tasks writing one file each rename their own; it must be on the same file system.
    /// Without `synchronize` the file is still replaced whole, but not fsynced (it may be lost,
    /// never torn, when the machine crashes).
    public static func write(_ data: Data, to url: URL, tmpFolder: URL? = nil, synchronize: Bool = true) throws {
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let tmp: URL
        if let tmpFolder {
            try FileManager.default.createDirectory(at: tmpFolder, withIntermediateDirectories: true)
            tmp = tmpFolder.appendingPathComponent("\(url.lastPathComponent).\(getpid()).\(writes.next()).tmp")
        } else {
            tmp = folder.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(writes.next()).tmp")
        }
        let fd = open(tmp.path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard fd >= 0 else { throw DurableFileError(path: tmp.path, reason: String(cString: strerror(errno))) }
        let failed = !data.withUnsafeBytes { writeFully(fd, $0) }
        let synced = synchronize ? fsync(fd) : 0
        close(fd)
        guard !failed, synced == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp.path)
            throw DurableFileError(path: tmp.path, reason: "write or fsync failed: \(reason)")
        }
        guard rename(tmp.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp.path)
            throw DurableFileError(path: url.path, reason: reason)
        }
    }
}

/// Numbers the temporary files of one process.
private final class WriteCounter: Sendable {
    private let count = Mutex(0)

    func next() -> Int { count.withLock { $0 += 1; return $0 } }
}

/// Writes all of `buffer` to `fd`, retrying after EINTR; false when the descriptor refuses
/// (`errno` says why) or takes nothing.
func writeFully(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Bool {
    guard let base = buffer.baseAddress else { return true }
    var offset = 0
    while offset < buffer.count {
        let count = Glibc.write(fd, base + offset, buffer.count - offset)
        if count > 0 {
            offset += count
        } else if !(count < 0 && errno == EINTR) {
            return false
        }
    }
    return true
}

/// A durable write failed.
public struct DurableFileError: Error, Sendable, CustomStringConvertible {
    /// The file.
    public var path: String
    /// Why.
    public var reason: String
    /// `cannot write PATH: REASON`.
    public var description: String { "cannot write \(path): \(reason)" }

    /// The error of writing `path`, failed for `reason`.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }
}
