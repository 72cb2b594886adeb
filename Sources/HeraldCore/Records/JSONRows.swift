import Foundation

/// A JSON array of flat objects, built byte by byte (nil values are left out): how the
/// PostgreSQL store hands a chunk's rows to one `jsonb_to_recordset` statement, at a fraction of
/// `JSONSerialization`'s cost.
///
/// ```swift
/// var rows = JSONRows()
/// rows.row(); rows.add("id", "m1"); rows.add("row", 1)
/// rows.text   // [{"id":"m1","row":1}]
/// ```
public struct JSONRows {
    private var bytes: [UInt8] = [0x5B]
    private var firstRow = true
    private var firstKey = true

    /// An empty array.
    public init() {}

    /// Starts the next object.
    public mutating func row() {
        if !firstRow { bytes += [0x7D, 0x2C] }
        bytes.append(0x7B)
        firstRow = false
        firstKey = true
    }

    /// A string member.
    public mutating func add(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        JSONObjectWriter.quote(value, into: &bytes)
    }

    /// An integer member.
    public mutating func add(_ key: String, _ value: Int?) {
        guard let value else { return }
        self.key(key)
        bytes += String(value).utf8
    }

    /// A number member (seconds since 1970, say).
    public mutating func add(_ key: String, _ value: Double) {
        self.key(key)
        bytes += "\(value)".utf8
    }

    /// An object of strings, keys sorted.
    public mutating func add(_ key: String, _ value: [String: String]) {
        self.key(key)
        bytes.append(0x7B)
        for (index, name) in value.keys.sorted().enumerated() {
            if index > 0 { bytes.append(0x2C) }
            JSONObjectWriter.quote(name, into: &bytes)
            bytes.append(0x3A)
            JSONObjectWriter.quote(value[name] ?? "", into: &bytes)
        }
        bytes.append(0x7D)
    }

    /// The array's text.
    public var text: String {
        String(decoding: bytes + (firstRow ? [0x5D] : [0x7D, 0x5D]), as: UTF8.self)
    }

    private mutating func key(_ key: String) {
        if !firstKey { bytes.append(0x2C) }
        firstKey = false
        JSONObjectWriter.quote(key, into: &bytes)
        bytes.append(0x3A)
    }
}
