import Foundation
import HeraldCore
import HeraldTestSupport
@testable import HeraldReports

/// Hand-made log lines, written the way JSONSerialization writes them (escaped slashes,
/// sorted keys), so the report's scanner also meets a writer other than Herald's own.
struct LogFixture {
    let workspace: TemporaryWorkspace
    private var lines: [String: [String]] = [:]

    init() throws {
        workspace = try TemporaryWorkspace(files: ["outbox/log/.gitkeep": ""])
    }

    /// `8318553918b6bfd9` + 12 hex row + channel code.
    static func id(_ row: Int, channel: Int = 2, batch: String = "8318553918b6bfd9") -> String {
        let rowHex = String(row, radix: 16)
        return batch + String(repeating: "0", count: 12 - rowHex.count) + rowHex + String(format: "%04x", channel)
    }

    /// Adds a line to the log of the day `ts` names (`2026-11-26T10:00:00.000+08:00`).
    mutating func add(_ ts: String, _ id: String, _ status: String, template: String = "order_shipped",
                      channel: String? = "mail", account: String? = "default", file: String = "orders.csv",
                      attempt: Int = 1, latency: Double? = nil, code: String? = nil, message: String? = nil) {
        var object: [String: Any] = ["ts": ts, "message_id": id, "batch": "sha256:ab", "file": file, "row": 1, "line": 2,
                                     "template": template, "status": status, "attempt": attempt,
                                     "extra": ["note": "a/b"], "recipient": "l***@example.com"]
        if let channel { object["channel"] = channel }
        if let account { object["account"] = account }
        if let latency { object["latency_ms"] = latency }
        if code != nil || message != nil {
            object["error"] = ["stage": "send", "code": code ?? "", "message": message ?? ""]
        }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        lines[String(ts.prefix(10)), default: []].append(String(decoding: data, as: UTF8.self))
    }

    /// Adds a raw line as is.
    mutating func addRaw(day: String, _ line: String) {
        lines[day, default: []].append(line)
    }

    /// Writes every day's file (replacing it).
    func write() throws {
        for (day, dayLines) in lines {
            try workspace.write("outbox/log/\(day).jsonl", dayLines.joined(separator: "\n") + "\n")
        }
    }

    static let zone = TimeZone(identifier: "Asia/Shanghai")!

    static func day(_ text: String) -> Int {
        try! ReportPeriod.day(text, timeZone: zone)
    }

    /// The report for `first...last` (one day when `last` is nil).
    func report(_ first: String, _ last: String? = nil) throws -> Report {
        try write()
        let builder = try ReportBuilder(period: ReportPeriod(first: Self.day(first), last: Self.day(last ?? first)), timeZone: Self.zone)
        try builder.read(logFolder: workspace.url.appendingPathComponent("outbox/log"))
        return builder.finish(templateNames: ["order_shipped": "订单发货通知"])
    }
}

extension Report {
    func channel(_ key: String) -> GroupFigures? { channels.first { $0.key == key } }
}
