import Foundation

/// ISO 8601 timestamps with milliseconds and a UTC offset, and calendar days, in a given time
/// zone: `2026-11-27T13:05:01.123+08:00`. Hand-rolled because it runs once per log line.
public enum Timestamp {
    /// `2026-11-27T13:05:01.123+08:00` (`Z` for UTC).
    public static func iso8601(_ date: Date, timeZone: TimeZone) -> String {
        let offset = timeZone.secondsFromGMT(for: date)
        let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded(.down))
        let local = milliseconds + offset * 1000
        let (days, msOfDay) = local.floorDivided(by: 86_400_000)
        let (year, month, day) = civil(days: days)
        let seconds = msOfDay / 1000
        var text = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2)).\(pad(msOfDay % 1000, 3))"
        if offset == 0 {
            text += "Z"
        } else {
            let magnitude = abs(offset) / 60
            text += (offset < 0 ? "-" : "+") + "\(pad(magnitude / 60, 2)):\(pad(magnitude % 60, 2))"
        }
        return text
    }

    /// `2026-11-27`: the calendar day of `date` in `timeZone` (names the log file).
    public static func day(_ date: Date, timeZone: TimeZone) -> String {
        day(number: days(localDayOf: date, timeZone: timeZone))
    }

    /// The calendar day of `date` in `timeZone`, as days since 1970-01-01.
    public static func days(localDayOf date: Date, timeZone: TimeZone) -> Int {
        let local = Int(date.timeIntervalSince1970.rounded(.down)) + timeZone.secondsFromGMT(for: date)
        return local.floorDivided(by: 86_400).quotient
    }

    /// `Fri, 27 Nov 2026 13:01:55 +0800`: the RFC 5322 date of a mail's Date header.
    public static func rfc5322(_ date: Date, timeZone: TimeZone) -> String {
        let offset = timeZone.secondsFromGMT(for: date)
        let local = Int(date.timeIntervalSince1970.rounded(.down)) + offset
        let (days, secondsOfDay) = local.floorDivided(by: 86_400)
        let (year, month, day) = civil(days: days)
        let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let weekday = weekdays[days.floorDivided(by: 7).remainder]
        let magnitude = abs(offset) / 60
        let zone = (offset < 0 ? "-" : "+") + pad(magnitude / 60, 2) + pad(magnitude % 60, 2)
        return "\(weekday), \(pad(day, 2)) \(months[month - 1]) \(year) \(pad(secondsOfDay / 3600, 2)):\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2)) \(zone)"
    }

    /// Reads an ISO 8601 (RFC 3339) time with or without fractional seconds
    /// (`2026-12-01T08:00:00+08:00`, `2026-11-27T05:21:41.443Z`). Impossible times (Feb 30, an
    /// offset of +99:99) are nil, never normalised into another day.
    public static func parse(_ text: String?) -> Date? {
        guard var text else { return nil }
        return text.withUTF8 { fields(of: $0) }.map { Date(timeIntervalSince1970: Double($0.epochMilliseconds) / 1000) }
    }

    /// What a `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` time says: the instant, and the calendar day
    /// and hour as written (local to its offset).
    public struct Fields: Sendable, Hashable {
        /// Milliseconds since 1970, UTC.
        public var epochMilliseconds: Int64
        /// Days since 1970-01-01 of the written date.
        public var localDay: Int
        /// The hour of the day the timestamp names (0–23), in its own offset.
        public var localHour: Int
    }

    /// Reads the UTF-8 bytes of a time in exactly the shape Herald writes (fractions of any
    /// length, `Z` or an offset); nil for anything else. Hand-rolled: reports read millions.
    public static func fields(of bytes: UnsafeBufferPointer<UInt8>) -> Fields? {
        guard bytes.count >= 20 else { return nil }
        func number(_ offset: Int, _ width: Int) -> Int? {
            var value = 0
            for index in offset..<offset + width {
                let digit = Int(bytes[index]) - 48
                guard digit >= 0, digit <= 9 else { return nil }
                value = value * 10 + digit
            }
            return value
        }
        guard bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x54 || bytes[10] == 0x20, bytes[13] == 0x3A, bytes[16] == 0x3A,
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              year >= 1, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var milliseconds = 0
        if bytes[index] == 0x2E {
            index += 1
            var scale = 100
            while index < bytes.count, (48...57).contains(bytes[index]) {
                milliseconds += Int(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        guard index < bytes.count else { return nil }
        var offsetSeconds = 0
        switch bytes[index] {
        case 0x5A:
            index += 1
        case 0x2B, 0x2D:
            guard bytes.count - index == 6, bytes[index + 3] == 0x3A,
                  let hours = number(index + 1, 2), let minutes = number(index + 4, 2), hours <= 18, minutes < 60 else { return nil }
            offsetSeconds = (bytes[index] == 0x2D ? -1 : 1) * (hours * 3600 + minutes * 60)
            index += 6
        default:
            return nil
        }
        guard index == bytes.count else { return nil }
        let days = Self.days(year: year, month: month, day: day)
        let localSeconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        return Fields(epochMilliseconds: (localSeconds - Int64(offsetSeconds)) * 1000 + Int64(milliseconds),
                      localDay: days, localHour: hour)
    }

    /// Days since 1970-01-01 of a calendar date (Howard Hinnant's days-from-civil).
    /// Days in `month` of `year` (Gregorian).
    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `2026-11-27` for a count of days since 1970-01-01.
    public static func day(number days: Int) -> String {
        let (year, month, day) = civil(days: days)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    /// Howard Hinnant's days-from-civil inverse.
    private static func civil(days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

extension Int {
    /// Division rounding toward negative infinity, with a non-negative remainder.
    func floorDivided(by divisor: Int) -> (quotient: Int, remainder: Int) {
        let quotient = self >= 0 ? self / divisor : (self - divisor + 1) / divisor
        return (quotient, self - quotient * divisor)
    }
}
