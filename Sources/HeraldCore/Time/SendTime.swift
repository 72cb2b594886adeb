import Foundation

/// When a row asks to be sent (`send_at`): ISO 8601 with `Z` or an offset
/// (`2026-12-01T09:30:00+08:00`, seconds optional), or a local date-time without one
/// (`2026-12-01 09:30`, `2026-12-01T09:30:00`) read in the recipient's time zone.
///
/// ```swift
/// SendTime.parse("2026-12-01 09:30", in: TimeZone(identifier: "America/New_York")!)   // 14:30 UTC
/// ```
public enum SendTime {
    /// The furthest ahead a row may be scheduled.
    public static let horizon: TimeInterval = 366 * 86_400

    /// The instant `text` names, or nil when it is not one of the accepted shapes.
    public static func parse(_ text: String, in zone: TimeZone) -> Date? {
        let text = text.trimmingCharacters(in: .whitespaces)
        guard text.utf8.count <= 40 else { return nil }
        if let date = Timestamp.parse(text) { return date }
        let pattern = #"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})?$"#
        guard let match = text.range(of: pattern, options: .regularExpression), match == text.startIndex..<text.endIndex else { return nil }
        let digits = text.split(whereSeparator: { !$0.isNumber }).map { Int($0) ?? -1 }
        let (year, month, day, hour, minute) = (digits[0], digits[1], digits[2], digits[3], digits[4])
        guard (1...12).contains(month), (1...Timestamp.daysIn(month: month, year: year)).contains(day),
              (0..<24).contains(hour), (0..<60).contains(minute) else { return nil }
        let hasSeconds = text.count >= 19 && text[text.index(text.startIndex, offsetBy: 16)] == ":"
        let second = hasSeconds ? digits[5] : 0
        guard (0..<60).contains(second) else { return nil }
        if text.hasSuffix("Z") || text.dropFirst(16).contains("+") || text.dropFirst(16).contains("-") {
            // An offset without seconds: the strict parser wants them.
            let base = String(text.prefix(16)) + ":" + String(format: "%02d", second)
            let offset = text.hasSuffix("Z") ? "Z" : String(text.suffix(6))
            return Timestamp.parse(base + offset)
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute, second: second))
    }
}
