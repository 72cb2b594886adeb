import Foundation
import HeraldCore

/// An announcement dropped in the inbox as `NAME.notice.json`:
/// `{"title": "…", "content": "…", "type": "announcement", "tenant": "0", "starts": "…", "ends": "…"}`.
public enum NoticeFile {
    /// Whether `url` is a notice file rather than a recipient batch.
    public static func matches(_ url: URL) -> Bool {
        url.lastPathComponent.hasSuffix(".notice.json")
    }

    /// Reads and publishes the notice; a file that cannot be used is a `BatchRejection`.
    public static func publish(_ url: URL, to store: any InboxStore, now: Date) async throws -> Notice {
        let object: Any
        do {
            let data = try Data(contentsOf: url)
            // The rules every JSON Herald reads is held to (UTF-8, strict syntax, no key twice).
            if let problem = StrictJSON.problem(in: data) { throw BatchRejection(reason: problem) }
            object = try JSONSerialization.jsonObject(with: data)
        } catch let rejection as BatchRejection {
            throw rejection
        } catch {
            throw BatchRejection(reason: "not valid JSON: \(error.localizedDescription)")
        }
        guard let fields = object as? [String: Any] else {
            throw BatchRejection(reason: "a notice file is one JSON object with title and content")
        }
        func text(_ key: String) -> String? {
            if let string = fields[key] as? String { return string }
            return (fields[key] as? NSNumber)?.stringValue
        }
        guard let title = text("title"), !title.isEmpty, let content = text("content"), !content.isEmpty else {
            throw BatchRejection(reason: "a notice needs \"title\" and \"content\"")
        }
        let type = text("type") ?? "notice"
        guard ["notice", "announcement"].contains(type) else {
            throw BatchRejection(reason: "\"type\" is notice or announcement, not '\(type)'")
        }
        let starts = date(text("starts")), ends = date(text("ends"))
        if text("starts") != nil && starts == nil || text("ends") != nil && ends == nil {
            throw BatchRejection(reason: "\"starts\" and \"ends\" are ISO 8601 times like 2026-12-01T08:00:00+08:00")
        }
        let notice = Notice(tenantID: text("tenant") ?? "0", title: title, content: content, type: type,
                            startsAt: starts, endsAt: ends, createdAt: now)
        if let problem = notice.windowProblem { throw BatchRejection(reason: problem) }
        return try await store.publish(notice)

    }

    /// An ISO 8601 time with or without fractional seconds.
    public static func date(_ text: String?) -> Date? {
        Timestamp.parse(text)
    }
}
