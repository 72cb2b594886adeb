import Foundation

/// A secret read from the environment (`password: ${HERALD_SMTP_PASSWORD}` in herald.yaml).
/// Printing it shows only the variable's name, so it cannot leak into logs or errors.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The environment variable it came from.
    public let variable: String
    /// The value; empty when the variable was not set (a check warning, a run error).
    public let value: String

    /// Creates a secret.
    public init(variable: String, value: String) {
        self.variable = variable
        self.value = value
    }

    public var description: String { "${\(variable)}" }
    public var debugDescription: String { description }

    /// The variable named by `${NAME}`, or nil when `text` is not exactly that form.
    public static func variableName(in text: String) -> String? {
        guard text.hasPrefix("${"), text.hasSuffix("}") else { return nil }
        let name = text.dropFirst(2).dropLast()
        guard let first = name.first, first == "_" || first.isLetter,
              name.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }) else { return nil }
        return String(name)
    }
}

/// A rate for a token bucket: `20/s`, `600/min`, `1000/h`, `10000/day`.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    /// Messages per `period`.
    public var count: Int
    /// The period.
    public var period: Duration

    /// Creates a rate.
    public init(count: Int, period: Duration) {
        self.count = count
        self.period = period
    }

    /// The largest count a rate may name.
    public static let maximumCount = 1_000_000_000

    /// Reads `N/s`, `N/min`, `N/h` or `N/day` (N from 1 to `maximumCount`).
    public static func parse(_ text: String) -> RateLimit? {
        let parts = text.split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let count = Int(parts[0]), count > 0, count <= maximumCount else { return nil }
        let period: Duration
        switch parts[1] {
        case "s", "sec", "second": period = .seconds(1)
        case "m", "min", "minute": period = .seconds(60)
        case "h", "hour": period = .seconds(3600)
        case "d", "day": period = .seconds(86_400)
        default: return nil
        }
        return RateLimit(count: count, period: period)
    }

    public var description: String {
        let seconds = period.components.seconds
        let unit = seconds == 1 ? "s" : seconds == 60 ? "min" : seconds == 3600 ? "h" : "day"
        return "\(count)/\(unit)"
    }
}

/// Sizes as herald.yaml writes them: `25MB`, `512KB`, `1048576`.
public enum SizeText {
    /// The largest size Herald accepts anywhere (1 TB).
    public static let maximum = 1 << 40

    /// Bytes, or nil when `text` is not a size or is larger than `maximum`.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        for (suffix, factor) in [("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)] where trimmed.hasSuffix(suffix) {
            guard let value = PlainNumber.parse(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)),
                  value * Double(factor) <= Double(maximum) else { return nil }
            return Int(value * Double(factor))
        }
        return Int(trimmed).flatMap { $0 <= maximum ? $0 : nil }
    }
}
