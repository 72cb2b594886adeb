import Foundation

/// Writes text to standard output or standard error with `write(2)`, and never fails:
/// `FileHandle.write` traps when the stream cannot take the bytes (`2>/dev/full`, a full disk, a
/// closed pipe), and a diagnostic must never be what kills a run.
///
/// ```swift
/// Console.write("herald run: stopped\n", to: .standardError)
/// ```
public enum Console {
    /// A standard stream.
    public enum Stream: Int32, Sendable {
        case standardOutput = 1
        case standardError = 2
    }

    /// Writes `text` whole if the stream takes it; drops what it does not (retrying only on EINTR).
    public static func write(_ text: String, to stream: Stream) {
        write(Array(text.utf8), to: stream)
    }

    /// Writes bytes whole if the stream takes them; drops what it does not.
    public static func write(_ bytes: [UInt8], to stream: Stream) {
        // A stream that refuses the bytes loses them: nothing else can be done with a diagnostic.
        _ = bytes.withUnsafeBytes { writeFully(stream.rawValue, $0) }
    }
}
