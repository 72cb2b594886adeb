import Foundation
import HeraldCore
import Histogram

/// `reports/metrics.prom` for node_exporter's textfile collector, kept up to date from the logs.
///
/// Each update reads only the log lines written since the previous one (the byte offset per log
/// file is kept in `outbox/metrics.json`), so it costs what the last run wrote, not the day.
///
/// ```swift
/// let text = try MetricsFile.update(root: root, timeZone: zone, lastRun: Date())
/// ```
public enum MetricsFile {
    /// Reads new log lines, counts them, and writes `reports/metrics.prom` atomically. `lastRun`
    /// is the time `herald run` finished (nil keeps the previous value). Returns the text.
    @discardableResult
    public static func update(root: URL, timeZone: TimeZone, lastRun: Date? = nil, now: Date = Date()) throws -> String {
        let paths = WorkspacePaths(root: root)
        try FileManager.default.createDirectory(at: paths.outbox, withIntermediateDirectories: true)
        let lock = open(paths.metricsLock.path, O_CREAT | O_RDWR, 0o644)
        guard lock >= 0 else { throw ReportError("cannot open outbox/.metrics.lock: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        flock(lock, LOCK_EX)
        defer { flock(lock, LOCK_UN) }

        let stateURL = paths.metricsState
        var state = (try? Data(contentsOf: stateURL)).flatMap { try? JSONDecoder().decode(MetricsState.self, from: $0) }
            ?? MetricsState()
        try state.read(logFolder: paths.logs,
                       today: Timestamp.days(localDayOf: now, timeZone: timeZone))
        if let lastRun { state.lastRun = lastRun.timeIntervalSince1970 }
        try DurableFile.write(try JSONEncoder().encode(state), to: stateURL)

        let spool = FileSpool(root: root)
        let text = state.prometheusText(spoolPending: spool.count(), spoolDead: spool.count(dead: true))
        try DurableFile.write(Data(text.utf8), to: paths.metrics)
        return text
    }
}

/// Counters and today's latency histograms, carried from one update to the next.
struct MetricsState: Codable {
    /// Bytes of each log file already counted.
    var offsets: [String: Int64] = [:]
    /// channel → status → log lines.
    var counts: [String: [String: Int]] = [:]
    var latencySum: [String: Double] = [:]
    var latencyCount: [String: Int] = [:]
    /// The local day (days since 1970) the histograms cover.
    var day = 0
    /// channel → latency of today's attempts, in microseconds.
    var histograms: [String: Histogram<UInt32>] = [:]
    var lastRun: Double?
    var unreadableLines = 0

    mutating func read(logFolder: URL, today: Int) throws {
        if day != today {
            histograms = [:]
            day = today
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: logFolder.path)) ?? [])
            .filter { $0.hasSuffix(".jsonl") }.sorted()
        offsets = offsets.filter { names.contains($0.key) }
        for name in names {
            let url = logFolder.appendingPathComponent(name)
            let size = LogFiles.size(of: url)
            var offset = offsets[name] ?? 0
            if size < offset { offset = 0 }
            guard size > offset else { continue }
            offsets[name] = try LogFiles.forEachLine(at: url, from: offset) { line, _ in count(line) }
        }
    }

    private mutating func count(_ line: UnsafeBufferPointer<UInt8>) {
        guard !line.isEmpty else { return }
        guard let scanned = try? LogLineScanner.scan(line), let status = scanned.status else {
            unreadableLines += 1
            return
        }
        if scanned.isBatchNote { return }

        let cursor = Cursor(bytes: line)
        let channel = scanned.channel.isEmpty ? "none" : cursor.decoded(scanned.channel)
        counts[channel, default: [:]][status.rawValue, default: 0] += 1
        guard !cursor.equals(scanned.file, "receipts"), [.sent, .failed, .deferred].contains(status),
              let latency = scanned.latencyMicroseconds else { return }
        latencySum[channel, default: 0] += Double(latency) / 1e6
        latencyCount[channel, default: 0] += 1
        if scanned.localDay == day {
            if histograms[channel] == nil {
                var histogram = Histogram<UInt32>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000,
                                                  numberOfSignificantValueDigits: .three)
                histogram.autoResize = true
                histograms[channel] = histogram
            }
            _ = histograms[channel]?.record(UInt64(max(1, latency)))
        }
    }

    func prometheusText(spoolPending: Int, spoolDead: Int) -> String {
        var lines: [String] = []
        let channels = counts.keys.sorted { (ReportBuilder.channelRank($0), $0) < (ReportBuilder.channelRank($1), $1) }
        let statuses = DeliveryStatus.allCases.filter { $0 != .duplicate }.map(\.rawValue)
        lines.append("# HELP herald_messages_total Messages recorded in outbox/log, by channel and status (each send outcome, receipt and row result counts once).")
        lines.append("# TYPE herald_messages_total counter")
        for channel in channels {
            for status in statuses {
                lines.append("herald_messages_total{channel=\"\(label(channel))\",status=\"\(status)\"} \(counts[channel]?[status] ?? 0)")
            }
        }
        lines.append("# HELP herald_send_latency_seconds Time one send attempt took; quantiles over today's attempts (local day), sum and count over all counted.")
        lines.append("# TYPE herald_send_latency_seconds summary")
        for channel in channels.filter({ latencyCount[$0] != nil }) {
            let histogram = histograms[channel]
            for quantile in [0.5, 0.9, 0.99] {
                let value = histogram.flatMap { $0.totalCount > 0 ? seconds($0.valueAtPercentile(quantile * 100)) : nil } ?? "NaN"
                lines.append("herald_send_latency_seconds{channel=\"\(label(channel))\",quantile=\"\(quantile)\"} \(value)")
            }
            lines.append("herald_send_latency_seconds_sum{channel=\"\(label(channel))\"} \(latencySum[channel] ?? 0)")
            lines.append("herald_send_latency_seconds_count{channel=\"\(label(channel))\"} \(latencyCount[channel] ?? 0)")
        }
        lines.append("# HELP herald_spool_messages Messages in outbox/spool: waiting for a retry, or dead.")
        lines.append("# TYPE herald_spool_messages gauge")
        lines.append("herald_spool_messages{state=\"pending\"} \(spoolPending)")
        lines.append("herald_spool_messages{state=\"dead\"} \(spoolDead)")
        lines.append("# HELP herald_last_run_timestamp_seconds When herald run last finished, in Unix time.")
        lines.append("# TYPE herald_last_run_timestamp_seconds gauge")
        lines.append("herald_last_run_timestamp_seconds \(lastRun.map { String(format: "%.3f", $0) } ?? "0")")
        lines.append("# HELP herald_log_lines_unreadable_total Log lines the metrics could not read.")
        lines.append("# TYPE herald_log_lines_unreadable_total counter")
        lines.append("herald_log_lines_unreadable_total \(unreadableLines)")
        return lines.joined(separator: "\n") + "\n"
    }

    private func seconds(_ microseconds: UInt64) -> String {
        String(format: "%.6f", Double(microseconds) / 1e6)
    }

    /// A label value with `\`, `"` and newlines escaped as the text format requires.
    private func label(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
