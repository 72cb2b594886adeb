import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// File-system events of one folder (inotify on Linux): wakes `herald watch` the moment a file
/// arrives instead of at its next poll. A file **renamed into** the folder is complete by
/// definition (producers write `NAME.tmp`, then rename); a file written in place still waits for
/// the settle time. Where inotify is not available, `init` returns nil and the watcher polls.
///
/// ```swift
/// let events = FolderEvents(folder: dropFolder)
/// let arrived = events?.wait(upTo: .seconds(1)) ?? []   // names renamed in meanwhile
/// ```
public final class FolderEvents: Sendable {
    private let descriptor: Int32

    /// Watches `folder` (which must exist); nil when the platform has no inotify or it fails.
    public init?(folder: URL) {
        #if canImport(Glibc)
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        let mask = UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE)
        guard inotify_add_watch(fd, folder.path, mask) >= 0 else {
            close(fd)
            return nil
        }
        descriptor = fd
        #else
        return nil
        #endif
    }

    deinit {
        close(descriptor)
    }

    /// What arrived: names renamed into the folder (complete) and whether anything else happened.
    public struct Arrivals: Sendable, Hashable {
        /// Files renamed into the folder.
        public var renamed: Set<String> = []
        /// Whether any event came (a file created or written in place also wakes the watcher).
        public var any = false
    }

    /// Waits until something happens in the folder or `timeout` passes (checking `stop` every
    /// 100 ms), then returns every event that came.
    public func wait(upTo timeout: Duration, stop: () -> Bool = { false }) -> Arrivals {
        #if canImport(Glibc)
        var arrivals = Arrivals()
        var left = Int(timeout.seconds * 1000)
        repeat {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let slice = max(0, min(left, 100))
            let ready = poll(&poller, 1, Int32(slice))
            left -= slice
            if ready > 0 {
                arrivals = drain()
                if arrivals.any { return arrivals }
            }
        } while left > 0 && !stop()
        return arrivals
        #else
        return Arrivals()
        #endif
    }

    /// Reads every pending event without waiting.
    public func drain() -> Arrivals {
        var arrivals = Arrivals()
        #if canImport(Glibc)
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            var offset = 0
            let header = MemoryLayout<inotify_event>.size
            while offset + header <= count {
                let (mask, length) = buffer.withUnsafeBytes { raw -> (UInt32, Int) in
                    let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
                    return (event.mask, Int(event.len))
                }
                arrivals.any = true
                if mask & UInt32(IN_MOVED_TO) != 0, length > 0 {
                    let start = offset + header
                    let bytes = buffer[start..<min(count, start + length)].prefix { $0 != 0 }
                    arrivals.renamed.insert(String(decoding: bytes, as: UTF8.self))
                }
                offset += header + length
            }
        }
        #endif
        return arrivals
    }
}
