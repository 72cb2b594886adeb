import Crypto
import Foundation

/// A batch file's SHA-256 over its name and bytes together (its identity when it declares no
/// id), computed in one pass that also checks every byte is UTF-8, so a GBK file is rejected
/// before any row is sent. The same bytes under another name are another batch (a weekly list
/// dropped again as `reminder.2026-12-07.csv`); the same name and bytes are a re-drop.
public struct BatchFingerprint: Sendable, Hashable {
    /// Lowercase hex SHA-256 of the file's name, a NUL byte and the file's bytes.
    public var sha256: String
    /// Size in bytes.
    public var size: Int
    /// SHA-256 of the bytes alone: how Herald named undeclared batches before the name joined the
    /// identity. A file the ledger knows under that id keeps it, so re-dropping a file processed
    /// before the upgrade is still a re-drop.
    public var bytesOnlySHA256: String?

    /// The batch id of an undeclared batch: `sha256:` and the hash.
    public var batchID: String { "sha256:\(sha256)" }

    /// The batch id the same file had before the name joined the identity.
    public var legacyBatchID: String? { bytesOnlySHA256.map { "sha256:\($0)" } }

    /// Hashes and validates the file at `url`; its name (as dropped) is part of the hash.
    public static func compute(_ url: URL) throws -> BatchFingerprint {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var hasher = SHA256()
        var bytesOnly = SHA256()
        hasher.update(data: Data(url.lastPathComponent.utf8))
        hasher.update(data: Data([0]))
        var validator = UTF8Validator()
        var size = 0
        while true {
            let chunk = try handle.read(upToCount: 1 << 20) ?? Data()
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
            bytesOnly.update(data: chunk)
            size += chunk.count
            chunk.withUnsafeBytes { validator.consume($0) }
            if let line = validator.invalidLine {
                throw BatchRejection(line: line, reason: "not valid UTF-8 text (is it saved as GBK or Excel's ANSI encoding?); save the file as UTF-8 and drop it again")
            }
        }
        if !validator.isComplete {
            throw BatchRejection(line: validator.line, reason: "the file ends in the middle of a UTF-8 character; it was cut short or is not UTF-8")
        }
        return BatchFingerprint(sha256: Hex.encode(hasher.finalize()), size: size, bytesOnlySHA256: Hex.encode(bytesOnly.finalize()))
    }

    /// Creates a value from its parts.
    public init(sha256: String, size: Int, bytesOnlySHA256: String? = nil) {
        self.sha256 = sha256
        self.size = size
        self.bytesOnlySHA256 = bytesOnlySHA256
    }
}

/// Why a whole batch file cannot be taken; written beside it as `NAME.error.txt`.
public struct BatchRejection: Error, Sendable, Hashable, CustomStringConvertible {
    /// The line where the problem is, when there is one.
    public var line: Int?
    /// What is wrong and what to do.
    public var reason: String
    /// Rows of the file already handled (sent, invalid…) before the problem showed, when any
    /// were: the file's `.error.txt` and the run's summary say what happened to them.
    public var handled: RunSummary?

    /// Creates a rejection.
    public init(line: Int? = nil, reason: String, handled: RunSummary? = nil) {
        self.line = line
        self.reason = reason
        self.handled = handled
    }


    public var description: String { line.map { "line \($0): \(reason)" } ?? reason }
}

/// Incremental strict UTF-8 validation (no overlong forms, no surrogates, nothing past U+10FFFF).
struct UTF8Validator {
    private(set) var line = 1
    private(set) var invalidLine: Int?
    private var needed = 0
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    var isComplete: Bool { needed == 0 && invalidLine == nil }

    mutating func consume(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            if needed == 0 {
                switch byte {
                case 0x0A: line += 1
                case 0x00...0x7F: break
                case 0xC2...0xDF: needed = 1
                case 0xE0: needed = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: needed = 2
                case 0xED: needed = 2; upper = 0x9F
                case 0xF0: needed = 3; lower = 0x90
                case 0xF1...0xF3: needed = 3
                case 0xF4: needed = 3; upper = 0x8F
                default:
                    invalidLine = line
                    return
                }
            } else {
                guard byte >= lower && byte <= upper else {
                    invalidLine = line
                    return
                }
                lower = 0x80
                upper = 0xBF
                needed -= 1
            }
        }
    }
}

/// A batch `POST /v1/notifications` wrote into the drop folder: `TEMPLATE.api-HASH.json`, HASH
/// the first 16 hex digits of the SHA-256 of the file's bytes. Only such a file may carry an
/// `api:` batch id (`BatchContext.declaredIDProblem`), so a dropped file cannot take a posted
/// batch's identity by accident.
public enum IngestBatchFile {
    /// The file name for `bytes` of a batch of template `code`.
    public static func name(template code: String, bytes: Data) -> String {
        "\(code).api-\(Hex.encode(SHA256.hash(data: bytes)).prefix(16)).json"
    }

    /// Whether the file at `url` is named for its bytes as `name(template:bytes:)` names them.
    public static func isGenuine(_ url: URL) -> Bool {
        let name = url.lastPathComponent
        guard name.hasSuffix(".json"), let range = name.range(of: ".api-", options: .backwards),
              let bytes = try? Data(contentsOf: url) else { return false }
        return name == self.name(template: String(name[..<range.lowerBound]), bytes: bytes)
    }
}
