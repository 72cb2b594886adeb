import Foundation
import HeraldCore

/// The report's tables as CSV files: UTF-8 with a byte-order mark (so Excel reads Chinese
/// correctly), CRLF line ends, and every cell starting with `=`, `+`, `-` or `@` (or a tab or
/// carriage return) prefixed with `'` so that a spreadsheet never runs it as a formula.
public enum CSVTables {
    /// File name → contents, one file per table.
    public static func files(for report: Report) -> [(name: String, contents: Data)] {
        let countHeader = ["total", "sent", "delivered", "undelivered", "failed", "invalid", "suppressed", "skipped",
                           "deferred_pending", "attempts", "retried", "success_rate", "delivery_rate",
                           "latency_count", "latency_p50_s", "latency_p90_s", "latency_p99_s", "latency_max_s"]
        func groupRows(_ rows: [GroupFigures]) -> [[String]] {
            rows.map { [$0.key] + counts($0.counts) + latency($0.latency) }
        }
        var summary: [[String]] = [["figure", "value", "previous"]]
        let previous = report.previous?.overall
        func line(_ name: String, _ value: String, _ old: String?) { summary.append([name, value, old ?? ""]) }
        line("period", report.period.description, report.previous?.period)
        line("total", String(report.overall.counts.total), previous.map { String($0.counts.total) })
        line("sent", String(report.overall.counts.sent), previous.map { String($0.counts.sent) })
        line("failed", String(report.overall.counts.failed), previous.map { String($0.counts.failed) })
        line("success_rate", rate(report.overall.counts.successRate), previous.map { rate($0.counts.successRate) })
        line("delivery_rate", rate(report.overall.counts.deliveryRate), previous.map { rate($0.counts.deliveryRate) })
        if let mailRate = report.mailDeliveryRate { line("mail_delivery_rate", rate(mailRate), nil) }
        line("latency_p99_s", seconds(report.overall.latency?.p99), previous.map { seconds($0.latency?.p99) })
        line("log_lines", String(report.linesRead), nil)
        line("unreadable_lines", String(report.unreadableLines), nil)

        let tables: [(String, [[String]])] = [
            ("summary.csv", summary),
            ("channels.csv", [["channel"] + countHeader] + groupRows(report.channels)),
            ("templates.csv", [["template", "name"] + countHeader]
                + report.templates.map { [$0.key, $0.name ?? ""] + counts($0.counts) + latency($0.latency) }),
            ("accounts.csv", [["account"] + countHeader] + groupRows(report.accounts)),
            ("hours.csv", [["day", "hour", "total", "sent", "delivered", "undelivered", "failed", "invalid", "suppressed", "skipped", "deferred_pending"]]
                + report.hours.map { hour in
                    [Timestamp.day(number: hour.day), String(hour.hour)] + counts(hour.counts).prefix(9)
                }),
            ("failures.csv", [["status", "channel", "code", "message", "count", "example_message_id"]]
                + report.failures.map { [$0.status.rawValue, $0.channel, $0.code, $0.message, String($0.count), $0.exampleMessageID] }),
            ("latency.csv", [["upper_bound_s", "messages"]]
                + report.latencyBuckets.map { [$0.upperSeconds.map { seconds($0) } ?? "", String($0.count)] }),
        ]
        return tables.map { ($0.0, encode($0.1)) }
    }

    /// A table as CSV bytes, with the BOM.
    public static func encode(_ rows: [[String]]) -> Data {
        var text = "\u{FEFF}"
        for row in rows {
            text += row.map(cell).joined(separator: ",")
            text += "\r\n"
        }
        return Data(text.utf8)
    }

    /// One cell: neutralised against formulas, then quoted when it holds a comma, quote or line break.
    public static func cell(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) {
            value = "'" + value
        }
        return CSVField.quoted(value)
    }

    private static func counts(_ counts: StatusCounts) -> [String] {
        [counts.total, counts.sent, counts.delivered, counts.undelivered, counts.failed, counts.invalid,
         counts.suppressed, counts.skipped, counts.deferred, counts.attempts, counts.retried].map(String.init)
            + [rate(counts.successRate), rate(counts.deliveryRate)]
    }

    private static func latency(_ latency: LatencyFigures?) -> [String] {
        guard let latency else { return ["0", "", "", "", ""] }
        return [String(latency.count)] + [latency.p50, latency.p90, latency.p99, latency.max].map { seconds($0) }
    }

    /// `0.9876` (four decimals), empty when there is no rate.
    static func rate(_ value: Double?) -> String {
        value.map { String(format: "%.4f", $0) } ?? ""
    }

    static func seconds(_ value: Double?) -> String {
        value.map { String(format: "%.3f", $0) } ?? ""
    }
}
