import Foundation
import HeraldCore

/// What a report can be written as.
public enum ReportFormat: String, Sendable, CaseIterable {
    case html
    case csv
}

/// Makes a report from a workspace's logs and writes it under `reports/<period>/`.
///
/// ```swift
/// let written = try ReportFiles.make(root: root, period: ReportPeriod(day: day), timeZone: zone,
///                                    formats: [.html, .csv], out: root.appendingPathComponent("reports"))
/// written.folder   // reports/2026-11-27/
/// ```
public enum ReportFiles {
    /// The report and the files written for it.
    public struct Written: Sendable {
        /// The figures.
        public var report: Report
        /// `reports/<period>/`.
        public var folder: URL
        /// The names written, in order.
        public var files: [String]
    }

    /// Reads `outbox/log/` for `period`, compares with the previous period's `summary.json` when it
    /// exists, and writes `report.html`, the CSV tables and `summary.json` (each file replaced
    /// atomically) into `out/<period name>/`.
    /// `logFolders` replaces the workspace's own `outbox/log/` with several workers' logs.
    public static func make(root: URL, period: ReportPeriod, timeZone: TimeZone, formats: Set<ReportFormat>,
                            out: URL, templateNames: [String: String] = [:], now: Date = Date(),
                            logFolders: [URL]? = nil) throws -> Written {
        let builder = try ReportBuilder(period: period, timeZone: timeZone)
        try builder.read(logFolders: logFolders ?? [WorkspacePaths(root: root).logs])
        var report = builder.finish(templateNames: templateNames, generatedAt: now)
        report.previous = previousSummary(out: out, period: period.previous)

        let folder = out.appendingPathComponent(period.name, isDirectory: true)
        var files: [String] = []
        if formats.contains(.html) {
            try DurableFile.write(Data(HTMLReport.render(report).utf8), to: folder.appendingPathComponent("report.html"))
            files.append("report.html")
        }
        if formats.contains(.csv) {
            for table in CSVTables.files(for: report) {
                try DurableFile.write(table.contents, to: folder.appendingPathComponent(table.name))
                files.append(table.name)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try DurableFile.write(try encoder.encode(report.summary), to: folder.appendingPathComponent("summary.json"))
        files.append("summary.json")
        return Written(report: report, folder: folder, files: files)
    }

    /// The summary of an earlier report, if one was written for exactly that period.
    static func previousSummary(out: URL, period: ReportPeriod) -> ReportSummary? {
        let url = out.appendingPathComponent(period.name, isDirectory: true).appendingPathComponent("summary.json")
        guard let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(ReportSummary.self, from: data)
    }
}
