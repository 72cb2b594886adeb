import Foundation

/// The drop folder `recipients/inbox/` and where its files go (not the 站内信 inbox of
/// `HeraldInbox`): a batch file is taken only when complete, then
/// moved by atomic rename to `processed/`, or to `rejected/` with `NAME.error.txt` beside it.
/// Nothing is ever deleted.
public struct DropFolder: Sendable {
    /// recipients/inbox/
    public let folder: URL
    /// recipients/processed/
    public let processed: URL
    /// recipients/rejected/
    public let rejected: URL
    /// How long a file must be unmodified before it is taken.
    public var settle: Duration

    /// The drop folder of the workspace at `root`.
    public init(root: URL, settle: Duration) {
        let paths = WorkspacePaths(root: root)
        folder = paths.dropFolder
        processed = paths.processed
        rejected = paths.rejected
        self.settle = settle
    }

    /// Files ready to take, by name; and the names of files still settling.
    /// Hidden files, `*.tmp` files and folders are never taken.
    /// `complete` names files known to be whole (they were renamed into the folder): they are
    /// ready at once, whatever their age.
    public func scan(now: Date = Date(), complete: Set<String> = []) throws -> (ready: [URL], settling: [String]) {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try Self.scan(folder, settle: settle, now: now, complete: complete)
    }

    /// The complete files of `folder` (not hidden, not `*.tmp`, regular, unmodified for `settle`
    /// or named in `complete`) and the names of those still settling, both in name order.
    public static func scan(_ folder: URL, settle: Duration, now: Date,
                            complete: Set<String> = []) throws -> (ready: [URL], settling: [String]) {
        var ready: [URL] = []
        var settling: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        where !name.hasPrefix(".") && !name.hasSuffix(".tmp") {
            let url = folder.appendingPathComponent(name)
            var status = stat()
            guard lstat(url.path, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { continue }
            if now.timeIntervalSince(lastChange(status, now: now)) < settle.seconds && !complete.contains(name) {
                settling.append(name)
            } else {
                ready.append(url)
            }
        }
        return (ready, settling)
    }

    /// When a file last changed, for the settle rule: its modification time, unless that is in
    /// the future (a copy that kept another machine's time, `touch -d 2099-01-01`): then its
    /// status-change time, which the kernel sets to its own clock on every write and every change
    /// of the times, so a file whose mtime says 2099 settles like any other.
    static func lastChange(_ status: stat, now: Date) -> Date {
        func date(_ time: timespec) -> Date { Date(timeIntervalSince1970: Double(time.tv_sec) + Double(time.tv_nsec) / 1e9) }
        let modified = date(status.st_mtim)
        guard modified > now else { return modified }
        let changed = date(status.st_ctim)
        return changed > now ? now.addingTimeInterval(-Double(Int32.max)) : changed
    }

    /// What a non-regular file is ("a folder", "a symbolic link", "a FIFO (named pipe)", "a
    /// device", "a socket"), or nil for a regular file.
    static func nonRegularKind(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: nil
        case S_IFDIR: "a folder"
        case S_IFLNK: "a symbolic link"
        case S_IFIFO: "a FIFO (named pipe)"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        default: "not a regular file"
        }
    }

    /// Entries of `folder` that are not regular files and not folders (symbolic links, FIFOs,
    /// devices, sockets), each with what it is: never taken, and named so that is not a mystery.
    public static func refused(in folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().filter { !$0.hasPrefix(".") }.compactMap { name in
            var status = stat()
            guard lstat(folder.appendingPathComponent(name).path, &status) == 0, status.st_mode & S_IFMT != S_IFDIR,
                  let kind = nonRegularKind(status.st_mode) else { return nil }
            return "\(name): \(kind), not taken; batch files must be regular files in the folder (left where it is)"
        }
    }

    /// Moves a file read through to `processed/`; returns where it went.
    @discardableResult
    public func markProcessed(_ url: URL) throws -> URL {
        try Self.move(url, into: processed)
    }

    /// Moves a file that could not be read to `rejected/` and writes `NAME.error.txt` beside it.
    @discardableResult
    public func reject(_ url: URL, because rejection: BatchRejection, at date: Date = Date(), timeZone: TimeZone) throws -> URL {
        let destination = try Self.move(url, into: rejected)
        let outcome: String
        var verb = "read"
        if let handled = rejection.handled, !handled.counts.isEmpty {
            let counts = DeliveryStatus.allCases.compactMap { status -> String? in
                let count = handled.total(status)
                return count > 0 ? "\(count) \(status)" : nil
            }
            outcome = """
                Before the problem, Herald handled rows of this file: \(counts.joined(separator: ", ")) \
                (each is in outbox/log/). Dropping the file again sends only what was not sent: the ledger knows the rest.
                """
            verb = "finish"
        } else {
            outcome = "Nothing in this file was sent. Fix it and drop it into recipients/inbox/ again."
        }
        let explanation = """
            herald could not \(verb) \(url.lastPathComponent) (rejected at \(Timestamp.iso8601(date, timeZone: timeZone)))

            \(rejection)

            \(outcome)

            """
        let errorFile = destination.deletingLastPathComponent().appendingPathComponent(destination.lastPathComponent + ".error.txt")
        try Data(explanation.utf8).write(to: errorFile, options: .atomic)
        return destination
    }

    /// Renames `url` into `folder`, adding `.1`, `.2`… before the extension if the name is taken.
    /// Moves `url` into `folder` by rename, as `NAME`, or `STEM.1.EXT`, `STEM.2.EXT`… when that
    /// name (or its `.error.txt`) is taken; returns where it went. Receipt and bounce files use it too.
    static func move(_ url: URL, into folder: URL) throws -> URL {
        let name = url.lastPathComponent
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw BatchRejection(reason: "could not move \(name) to \(folder.lastPathComponent)/: \(error.localizedDescription)")
        }
        var destination = folder.appendingPathComponent(name)
        var counter = 1
        while FileManager.default.fileExists(atPath: destination.path)
                || FileManager.default.fileExists(atPath: destination.path + ".error.txt") {
            let ext = url.pathExtension
            let stem = url.deletingPathExtension().lastPathComponent
            destination = folder.appendingPathComponent(ext.isEmpty ? "\(stem).\(counter)" : "\(stem).\(counter).\(ext)")
            counter += 1
        }
        guard rename(url.path, destination.path) == 0 else {
            throw BatchRejection(reason: "could not move \(name) to \(folder.lastPathComponent)/: \(String(cString: strerror(errno)))")
        }
        return destination
    }
}

/// Holds `outbox/.lock` so only one `herald run` works on a workspace at a time.
public final class RunLock: Sendable {
    private let descriptor: Int32

    /// Takes the lock, or throws when another run holds it.
    public init(root: URL) throws {
        let paths = WorkspacePaths(root: root)
        try FileManager.default.createDirectory(at: paths.outbox, withIntermediateDirectories: true)
        let path = paths.runLock.path
        descriptor = open(path, O_CREAT | O_RDWR, 0o644)
        guard descriptor >= 0 else { throw RunLockError(message: "cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            throw RunLockError(message: "another herald run is working on this workspace (outbox/.lock is held); wait for it to finish")
        }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// The workspace is busy.
public struct RunLockError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, for the command to print.
    public var message: String
    public var description: String { message }
}
