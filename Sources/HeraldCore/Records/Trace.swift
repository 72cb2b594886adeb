import Foundation

/// What `herald trace` shows of one message: its log lines in time order, what the ledger says
/// now, when its 站内信 was read and whether it waits in the spool.
public struct TracedMessage {
    /// The message id.
    public var id: String
    /// Its log lines as JSON objects, oldest first.
    public var events: [[String: Any]]
    /// The ledger's entry, when it has one.
    public var ledger: LedgerEntry?
    /// For a stored 站内信: read (with the time, when the store keeps it) or not.
    public var read: (read: Bool, at: Date?)?
    /// Its spool entry, waiting or dead.
    public var spool: (entry: SpoolEntry, dead: Bool)?

    private func first(_ key: String) -> String? {
        events.lazy.compactMap { $0[key] as? String }.first
    }

    /// The message as JSON: the log lines under `events`, then `ledger`, `read_at`, `spool`.
    public func json(timeZone: TimeZone) -> [String: Any] {
        var object: [String: Any] = ["message_id": id, "events": events]
        if let channel = first("channel") { object["channel"] = channel }
        if let template = first("template") { object["template"] = template }
        if let ledger {
            var entry: [String: Any] = ["status": ledger.status.rawValue, "attempt": ledger.attempt,
                                        "updated_at": Timestamp.iso8601(ledger.updatedAt, timeZone: timeZone)]
            if let code = ledger.errorCode { entry["error_code"] = code.rawValue }
            if let message = ledger.errorMessage { entry["error_message"] = message }
            if let provider = ledger.providerID { entry["provider_id"] = provider }
            object["ledger"] = entry
        }
        if let read {
            object["read"] = read.read
            if let at = read.at, at.timeIntervalSince1970 > 0 { object["read_at"] = Timestamp.iso8601(at, timeZone: timeZone) }
        }
        if let spool {
            object["spool"] = ["state": spool.dead ? "dead" : "waiting", "attempts": spool.entry.attempts,
                               "next_attempt": Timestamp.iso8601(spool.entry.nextAttempt, timeZone: timeZone),
                               "kind": spool.entry.kind?.rawValue ?? "retry"] as [String: Any]
        }
        return object
    }

    /// The message as lines of text: a heading, one line per log line, then its state now.
    public func text(timeZone: TimeZone) -> String {
        var heading = [id, first("channel") ?? "-", first("template") ?? "-"]
        if let file = first("file") { heading.append("\(file) row \(events.lazy.compactMap { $0["row"] as? Int }.first.map(String.init) ?? "-")") }
        if let recipient = first("recipient") { heading.append("to \(recipient)") }
        var lines = [heading.joined(separator: "  ")]
        for event in events {
            var parts = [event["ts"] as? String ?? "-", (event["status"] as? String ?? "-").padding(toLength: 11, withPad: " ", startingAt: 0)]
            if let file = event["file"] as? String, file == "receipts" || file == "bounces" { parts.append(file == "receipts" ? "receipt" : "bounce") }
            if let attempt = event["attempt"] as? Int, event["file"] as? String != "receipts", event["file"] as? String != "bounces" {
                parts.append("attempt \(attempt)")
            }
            if let account = event["account"] as? String { parts.append(account) }
            if let worker = event["worker"] as? String { parts.append("on \(worker)") }
            if let latency = event["latency_ms"] as? Double { parts.append("\(latency) ms") }
            if let provider = event["provider_id"] as? String { parts.append("provider \(provider)") }
            if let from = event["escalated_from"] as? String { parts.append("escalated from \(from)") }
            if let digest = event["digest"] as? String { parts.append("into digest \(digest)") }
            if let error = event["error"] as? [String: Any] {
                parts.append("\(error["code"] as? String ?? ""): \(error["message"] as? String ?? "")")
            }
            if let next = event["next_attempt"] as? String { parts.append("next \(next)") }
            if let extra = event["extra"] as? [String: Any], let failover = extra["failover"] as? String { parts.append("after \(failover)") }
            lines.append("  " + parts.joined(separator: "  "))
        }
        var now: [String] = []
        if let ledger { now.append("ledger: \(ledger.status.rawValue)") }
        if let read {
            if let at = read.at, at.timeIntervalSince1970 > 0 {
                now.append("read \(Timestamp.iso8601(at, timeZone: timeZone))")
            } else {
                now.append(read.read ? "read" : "unread")
            }
        }
        if let spool {
            now.append(spool.dead ? "spool: dead after \(spool.entry.attempts) attempts"
                       : "spool: waiting, next attempt \(Timestamp.iso8601(spool.entry.nextAttempt, timeZone: timeZone))")
        }
        if !now.isEmpty { lines.append("  now  " + now.joined(separator: "  ·  ")) }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Puts `herald trace`'s answer together.
public enum Trace {
    /// The messages of `lines` (from `TraceIndex`), each with its ledger entry, read state and
    /// spool entry, in the order of their first line.
    public static func assemble(_ lines: [TraceIndex.Line], ledger: any Ledger, inbox: (any SiteMessageStore)?,
                                spool: (any Spool)?) async throws -> [TracedMessage] {
        var byID: [String: [(Date, Int, [String: Any])]] = [:]
        var order: [String] = []
        for (index, line) in lines.enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.text.utf8)) as? [String: Any],
                  let id = object["message_id"] as? String, object["event"] == nil else { continue }
            let at = Timestamp.parse(object["ts"] as? String) ?? .distantPast
            if byID[id] == nil { order.append(id) }
            byID[id, default: []].append((at, index, object))
        }
        let ids = order.map(MessageID.init)
        let entries = Dictionary(try await ledger.entries(ids: ids, providerIDs: []).map { ($0.id.value, $0) }, uniquingKeysWith: { a, _ in a })
        let reads = try await inbox?.readTimes(of: ids) ?? [:]
        var messages: [TracedMessage] = []
        for id in order {
            let events = (byID[id] ?? []).sorted { ($0.0, $0.1) < ($1.0, $1.1) }
            var message = TracedMessage(id: id, events: events.map(\.2), ledger: entries[id])
            if let read = reads[MessageID(id)] { message.read = (read != nil, read) }
            message.spool = try await spool?.entry(id: id)
            messages.append(message)
        }
        return messages.sorted { first, second in
            let a = Timestamp.parse(first.events.first?["ts"] as? String) ?? .distantPast
            let b = Timestamp.parse(second.events.first?["ts"] as? String) ?? .distantPast
            return a < b
        }
    }
}
