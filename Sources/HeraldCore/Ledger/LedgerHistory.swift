import Foundation

/// The ledger against the logs: a lost `outbox/herald.sqlite` is noticed before anything is
/// sent twice, and the ledger can be rebuilt from `outbox/log/`, fingerprints included.
///
/// ```swift
/// try await LedgerHistory.check(ledger, logDirectory: log)          // throws LedgerLost
/// let report = try await LedgerHistory.rebuild(ledger, logDirectory: log, now: Date())
/// ```
public enum LedgerHistory {
    /// Throws `LedgerLost` when the ledger holds nothing (and was never rebuilt) while the logs
    /// hold lines of earlier runs: sending now could send every one of those messages again.
    ///
    /// A blank ledger beside empty logs is where a workspace starts: it is noted as agreeing with
    /// the logs (as a rebuild from no logs would be). Otherwise a first chunk whose log lines were
    /// written and whose ledger write failed (the database went away between the two) would make
    /// the ledger look lost at the next run, which instead records that chunk from the send journal.
    /// A ledger that is lost or replaced later is a new one, without that note, and is refused.
    public static func check(_ ledger: any Ledger, logDirectory: URL, now: Date = Date()) async throws {
        guard try await ledger.isBlank() else { return }
        let files = logFiles(logDirectory).filter { fileSize($0) > 0 }
        guard !files.isEmpty else {
            try await ledger.markRebuilt(at: now)
            return
        }
        throw LedgerLost(logFiles: files.count)
    }

    /// Reads every log file in day order and records each message's last status, attempt,
    /// provider id, error and fingerprint, then notes the rebuild. Lines that cannot be read are
    /// counted and passed over; batch notes are not messages.
    public static func rebuild(_ ledger: any Ledger, logDirectory: URL, now: Date) async throws -> LedgerRebuildReport {
        var report = LedgerRebuildReport()
        try await ledger.markRebuilding()
        var chunk: [LedgerEntry] = []
        var messages = Set<String>()
        for url in logFiles(logDirectory) {
            report.files += 1
            let lines = try LineReader(url: url)
            while let (number, bytes) = try lines.next() {
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                report.lines += 1
                guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                    report.unreadable.append("\(url.lastPathComponent):\(number): not a JSON object")
                    continue
                }
                if object["event"] != nil { continue }
                guard let entry = entry(object, now: now) else {
                    report.unreadable.append("\(url.lastPathComponent):\(number): no message_id, batch or known status")
                    continue
                }
                messages.insert(entry.id.value)
                chunk.append(entry)
                if chunk.count >= 1000 {
                    try await ledger.record(chunk)
                    chunk.removeAll(keepingCapacity: true)
                }
            }
        }
        try await ledger.record(chunk)
        try await ledger.markRebuilt(at: now)
        report.messages = messages.count
        return report
    }

    private static func entry(_ object: [String: Any], now: Date) -> LedgerEntry? {
        guard let id = object["message_id"] as? String, let batch = object["batch"] as? String,
              let status = (object["status"] as? String).flatMap(DeliveryStatus.init(rawValue:)), status != .duplicate else {
            return nil
        }
        let error = object["error"] as? [String: Any]
        return LedgerEntry(id: MessageID(id), batch: batch, row: object["row"] as? Int ?? 0,
                           channel: (object["channel"] as? String).flatMap(Channel.init(rawValue:)),
                           template: object["template"] as? String, status: status, attempt: object["attempt"] as? Int ?? 1,
                           providerID: object["provider_id"] as? String, errorCode: (error?["code"] as? String).map { FailureCode($0) },
                           errorMessage: error?["message"] as? String,
                           updatedAt: Timestamp.parse(object["ts"] as? String) ?? now,
                           fingerprint: object["fingerprint"] as? String, file: object["file"] as? String)
    }

    /// `outbox/log/*.jsonl` in name (day) order.
    static func logFiles(_ directory: URL) -> [URL] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".jsonl") && !$0.hasPrefix(".") }.sorted().map { directory.appendingPathComponent($0) }
    }

    private static func fileSize(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int) ?? 0
    }
}

/// What `LedgerHistory.rebuild` read.
public struct LedgerRebuildReport: Sendable, Hashable {
    /// Log files read.
    public var files = 0
    /// Non-blank lines read.
    public var lines = 0
    /// Distinct messages recorded.
    public var messages = 0
    /// `file:line: reason` for each line passed over.
    public var unreadable: [String] = []
}

/// The ledger is empty but the logs are not: `outbox/herald.sqlite` was lost or replaced.
public struct LedgerLost: Error, Sendable, CustomStringConvertible {
    /// Non-empty log files found.
    public var logFiles: Int
    /// Where the ledger lives (`outbox/herald.sqlite`, or the PostgreSQL store without its password).
    public var store = "outbox/herald.sqlite"

    public var description: String {
        "\(store) holds no ledger (or its rebuild did not finish), but outbox/log/ holds \(logFiles) day\(logFiles == 1 ? "" : "s") of earlier runs: "
            + "the database was lost or replaced, and sending now could send those messages again. "
            + "Run `herald ledger rebuild` to rebuild the ledger from the logs, then run again"
    }
}
