import Foundation

/// Durations as herald.yaml writes them: `500ms`, `2s`, `5m`, `1h`, `30d`.
public enum DurationText {
    /// The longest duration Herald accepts anywhere (ten years): longer values are typos, and
    /// converting them to nanoseconds would overflow.
    public static let maximum: Duration = .seconds(3650 * 86_400)

    /// The duration `text` names, or nil when it is not one or is longer than `maximum`.
    /// The number is plain decimal (`1.5h`), never `1e9`, `inf` or `nan`.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        for (suffix, seconds) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            guard !(suffix == "m" && number.hasSuffix("m")), let value = PlainNumber.parse(number) else { continue }
            let total = value * seconds
            guard total <= maximum.seconds else { return nil }
            return .milliseconds(Int64((total * 1000).rounded()))
        }
        return nil
    }
}

/// A plain non-negative decimal number as people write them in configuration: digits with at
/// most one decimal point (`25`, `1.5`). No sign, exponent, hex, `inf` or `nan`.
enum PlainNumber {
    static func parse<S: StringProtocol>(_ text: S) -> Double? {
        var digits = 0, points = 0
        for character in text.utf8 {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits += 1
            case UInt8(ascii: "."): points += 1
            default: return nil
            }
        }
        guard digits > 0, points <= 1, digits <= 30, let value = Double(String(text)), value.isFinite else { return nil }
        return value
    }
}
