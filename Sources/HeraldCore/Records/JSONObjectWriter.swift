import Foundation

/// Builds JSON objects as UTF-8 bytes; nil values are left out. Several objects may be
/// written one after another (`newline()` between them).
struct JSONObjectWriter {
    private(set) var bytes: [UInt8] = [0x7B]
    private var first = true

    mutating func add(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        Self.quote(value, into: &bytes)
    }

    mutating func add(_ key: String, _ value: Int?) {
        guard let value else { return }
        self.key(key)
        bytes += String(value).utf8
    }

    mutating func addRaw(_ key: String, _ raw: String) {
        self.key(key)
        bytes += raw.utf8
    }

    mutating func beginObject(_ key: String) {
        self.key(key)
        bytes.append(0x7B)
        first = true
    }

    mutating func endObject() {
        bytes.append(0x7D)
        first = false
    }

    /// Closes the current object, adds a newline and opens the next one.
    mutating func newline() {
        bytes += [0x7D, 0x0A, 0x7B]
        first = true
    }

    /// Closes the object and returns all bytes written.
    func finish() -> [UInt8] { bytes + [0x7D] }

    private mutating func key(_ key: String) {
        if !first { bytes.append(0x2C) }
        first = false
        Self.quote(key, into: &bytes)
        bytes.append(0x3A)
    }

    /// A JSON string literal; non-ASCII stays UTF-8, quotes, backslashes and control characters are escaped.
    static func quote(_ value: String, into bytes: inout [UInt8]) {
        bytes.append(0x22)
        var value = value
        let plain = value.withUTF8 { buffer -> Bool in
            for byte in buffer where byte < 0x20 || byte == 0x22 || byte == 0x5C { return false }
            bytes.append(contentsOf: buffer)
            return true
        }
        if plain {
            bytes.append(0x22)
            return
        }
        for byte in value.utf8 {
            switch byte {
            case 0x22: bytes += [0x5C, 0x22]
            case 0x5C: bytes += [0x5C, 0x5C]
            case 0x0A: bytes += [0x5C, 0x6E]
            case 0x0D: bytes += [0x5C, 0x72]
            case 0x09: bytes += [0x5C, 0x74]
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }
}
