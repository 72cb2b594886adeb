import ArgumentParser
import Foundation
import HeraldCore
import HeraldReports
import HeraldRuntime

extension Herald {
    struct ReportCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "HTML and CSV success-rate report for a day or a range, from outbox/log/.",
            discussion: """
                Writes reports/<day>/ (or reports/<first>_<last>/): report.html, one CSV per table and summary.json, \
                and refreshes reports/metrics.prom. Each message is counted once, at its last status in the period. \
                Days are calendar days in herald.yaml's timezone; D is YYYY-MM-DD, today or yesterday.
                """
        )

        @OptionGroup var options: WorkspaceOptions

        @Option(help: ArgumentHelp("The day to report (default today).", valueName: "D"))
        var date: String?

        @Option(help: ArgumentHelp("First day of a range.", valueName: "D1"))
        var since: String?

        @Option(help: ArgumentHelp("Last day of a range (default today).", valueName: "D2"))
        var until: String?

        @Option(help: ArgumentHelp("What to write: html, csv or both.", valueName: "html,csv"))
        var format = "html,csv"

        @Option(help: ArgumentHelp("Folder for the report, relative to the workspace.", valueName: "DIR"))
        var out = "reports"

        @Option(name: .customLong("logs"), help: ArgumentHelp(
            "Read this log folder instead of outbox/log/; repeat it to report on several workers' logs as one.", valueName: "DIR"))
        var logFolders: [String] = []

        func validate() throws {
            if date != nil && (since != nil || until != nil) {
                throw ValidationError("give either --date or --since/--until, not both")
            }
            if until != nil && since == nil { throw ValidationError("--until needs --since") }
            for name in formats.rejected {
                throw ValidationError("--format takes html, csv or html,csv; '\(name)' is not one of them")
            }
        }

        private var formats: (accepted: Set<ReportFormat>, rejected: [String]) {
            var accepted: Set<ReportFormat> = []
            var rejected: [String] = []
            for name in format.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                if let format = ReportFormat(rawValue: name) { accepted.insert(format) } else { rejected.append(name) }
            }
            return (accepted, rejected)
        }

        func run() throws {
            let workspace = try options.open(secretsOptional: true)
            let zone = workspace.configuration.timeZone
            let period: ReportPeriod
            do {
                if let since {
                    let first = try ReportPeriod.day(since, timeZone: zone)
                    let last = try ReportPeriod.day(until ?? "today", timeZone: zone)
                    guard last >= first else { throw ReportError("--until \(until ?? "today") is before --since \(since)") }
                    period = ReportPeriod(first: first, last: last)
                } else {
                    period = ReportPeriod(day: try ReportPeriod.day(date ?? "today", timeZone: zone))
                }
            } catch {
                printError("herald report: \(error)")
                throw ExitCode(2)
            }
            let outFolder = out.hasPrefix("/") ? URL(fileURLWithPath: out, isDirectory: true)
                : workspace.root.appendingPathComponent(out, isDirectory: true)
            let names = Dictionary(workspace.catalog.codes.compactMap { code in workspace.catalog[code].map { (code, $0.name) } },
                                   uniquingKeysWith: { first, _ in first })
            let folders = logFolders.map { path in
                path.hasPrefix("/") ? URL(fileURLWithPath: path, isDirectory: true)
                    : workspace.root.appendingPathComponent(path, isDirectory: true)
            }
            for folder in folders where !FileManager.default.fileExists(atPath: folder.path) {
                printError("herald report: --logs \(folder.path) does not exist")
                throw ExitCode(2)
            }
            let written: ReportFiles.Written
            do {
                written = try ReportFiles.make(root: workspace.root, period: period, timeZone: zone, formats: formats.accepted,
                                               out: outFolder, templateNames: names, logFolders: folders.isEmpty ? nil : folders)
            } catch {
                printError("herald report: \(error)")
                throw ExitCode(1)
            }
            updateMetrics(workspace, lastRun: nil)
            printSummary(written)
        }

        private func printSummary(_ written: ReportFiles.Written) {
            let report = written.report
            for day in report.missingDays { printError("herald report: no log for \(day) (outbox/log/\(day).jsonl)") }
            for file in report.unfinishedFiles {
                printError("herald report: the last line of outbox/log/\(file) is still being written; it is not counted")
            }
            if report.unreadableLines > 0 {
                printError("herald report: \(report.unreadableLines) log lines could not be read and are not counted:")
                for example in report.unreadableExamples.prefix(5) { printError("  \(example)") }
            }
            let counts = report.overall.counts
            print("report \(report.period): \(counts.total) messages, \(counts.sent) sent, \(counts.failed) failed, \(counts.invalid) invalid; success rate \(percent(counts.successRate)), delivery rate \(percent(counts.deliveryRate))")
            if let rate = report.mailDeliveryRate {
                print("mail delivery rate \(percent(rate)) (bounces came back for \(report.mailCounts?.bounced ?? 0) messages)")
            }
            if let previous = report.previous {
                print("previous period \(previous.period): \(previous.overall.counts.total) messages, success rate \(percent(previous.overall.counts.successRate))")
            }
            if !report.channels.isEmpty {
                print("")
                let header = ["channel", "total", "sent", "delivered", "failed", "invalid", "suppressed", "deferred", "success", "p99"]
                var rows = [header]
                for row in report.channels {
                    let c = row.counts
                    rows.append([row.key, "\(c.total)", "\(c.sent)", "\(c.delivered)", "\(c.failed)", "\(c.invalid)", "\(c.suppressed)",
                                 "\(c.deferred)", percent(c.successRate), row.latency.map { String(format: "%.3fs", $0.p99) } ?? "-"])
                }
                let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
                for row in rows {
                    print(row.enumerated().map { column, cell in
                        column == 0 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                            : String(repeating: " ", count: widths[column] - cell.count) + cell
                    }.joined(separator: "  "))
                }
                print("")
            }
            let relative = written.folder.path.replacingOccurrences(of: options.root.path + "/", with: "")
            print("wrote \(relative)/: \(written.files.joined(separator: ", "))")
        }

        private func percent(_ rate: Double?) -> String {
            rate.map { String(format: "%.2f%%", $0 * 100) } ?? "-"
        }
    }
}

/// Refreshes reports/metrics.prom from the log lines written since the last refresh. A failure
/// is reported and does not change the command's outcome.
func updateMetrics(_ workspace: Workspace, lastRun: Date?) {
    if let problem = WorkspaceWiring.refreshMetrics(workspace, lastRun: lastRun) { printError("herald: \(problem)") }
}
