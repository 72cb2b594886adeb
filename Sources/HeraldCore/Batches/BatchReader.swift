import Foundation

/// The file formats Herald reads from the inbox.
public enum BatchFormat: String, Sendable, Hashable, CaseIterable {
    case csv
    case json
    case jsonLines = "jsonl"

    /// The format a file name's extension says, or nil for files Herald does not read.
    public init?(fileName: String) {
        let ext = (fileName as NSString).pathExtension.lowercased()
        switch ext {
        case "csv": self = .csv
        case "json": self = .json
        case "jsonl", "ndjson": self = .jsonLines
        default: return nil
        }
    }
}

/// Reserved column and key names; everything else is a template parameter.
public enum ReservedColumn {
    /// Every reserved name (lowercase); any other column is a template parameter.
    public static let all: Set<String> = Set(Channel.allCases.map(\.addressColumn)).union(
        ["template", "channels", "user_type", "tenant_id", "locale", "cc", "bcc", "attachments", "unsubscribe_url",
         "timezone", "send_at"])

    /// The reserved name `name` spells in any case (`Email`, `USER_ID`), or `name` itself when
    /// it is a parameter. Parameter names keep their case: `{orderId}` is not `{orderid}`.
    public static func canonical(_ name: String) -> String {
        let lower = name.lowercased()
        return lower != name && all.contains(lower) ? lower : name
    }
}

/// Reads recipient rows from one batch file, streaming.
///
/// ```swift
/// let reader = try BatchReaders.open(url, catalog: catalog)
/// while let record = try reader.next() { ... }
/// ```
public protocol BatchReader: AnyObject {
    /// The batch id the file declares (JSON `id`), if any.
    var declaredID: String? { get }
    /// Fraction of the file read, 0...1.
    var progress: Double { get }
    /// The next record, nil at the end. Throws `BatchRejection` when the file as a whole is unreadable.
    func next() throws -> BatchRecord?
}

/// Opens batch readers by format.
public enum BatchReaders {
    /// A reader for the file at `url`; `catalog` resolves the template a file name implies.
    public static func open(_ url: URL, catalog: TemplateCatalog) throws -> any BatchReader {
        let name = url.lastPathComponent
        guard let format = BatchFormat(fileName: name) else {
            throw BatchRejection(reason: "Herald reads .csv, .json and .jsonl files; rename or remove '\(name)'")
        }
        let implied = impliedTemplate(fileName: name, catalog: catalog)
        switch format {
        case .csv: return try CSVBatchReader(url: url, impliedTemplate: implied, impliedCode: impliedCode(name))
        case .json: return try JSONBatchReader(url: url, impliedTemplate: implied)
        case .jsonLines: return try JSONLinesBatchReader(url: url, impliedTemplate: implied)
        }
    }

    /// `order_shipped.2026-11-27.csv` → `order_shipped` when the catalog has it.
    static func impliedTemplate(fileName: String, catalog: TemplateCatalog) -> String? {
        let code = impliedCode(fileName)
        return catalog[code] != nil ? code : nil
    }

    static func impliedCode(_ fileName: String) -> String {
        String(fileName.split(separator: ".").first ?? "")
    }

    /// Builds a row from reserved values and parameters.
    static func row(number: Int, line: Int?, values: [(String, String?)], defaults: [String: String] = [:],
                    template: String?, channels: [String]?) -> RecipientRow {
        var row = RecipientRow(row: number, line: line, template: template, channels: channels, parameters: defaults)
        for (key, value) in values {
            let present = value.flatMap { $0.isEmpty ? nil : $0 }
            if let channel = Channel(addressColumn: key) {
                row.recipient[keyPath: Recipient.field(for: channel)] = present
                continue
            }
            switch key {
            case "template": if let present { row.template = present }
            case "channels": if let present { row.channels = splitChannels(present) }
            case "user_type": row.recipient.userType = present
            case "tenant_id": row.recipient.tenantID = present
            case "locale": row.recipient.locale = present
            case "cc": row.mail.cc = present.map(splitList) ?? []
            case "bcc": row.mail.bcc = present.map(splitList) ?? []
            case "attachments": row.mail.attachments = present.map(splitList) ?? []
            case "unsubscribe_url": row.mail.unsubscribeURL = present
            case "timezone": row.recipient.timeZone = present
            case "send_at": row.sendAt = present
            default: row.parameters[key] = value ?? ""
            }
        }
        return row
    }

    /// `a@x.cn|b@y.cn` or `a@x.cn, b@y.cn`; also `;` (as Outlook writes lists).
    static func splitList(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "|" || $0 == "," || $0 == ";" }).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    static func splitChannels(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == "|" || $0 == "," || $0 == " " }).map(String.init)
    }
}

/// CSV batches: a header row, then one recipient per record.
final class CSVBatchReader: BatchReader {
    private let reader: CSVReader
    private var header: [String]
    private let template: String?
    private let size: Double
    private var rowNumber = 0
    let declaredID: String? = nil

    init(url: URL, impliedTemplate: String?, impliedCode: String) throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        self.size = Double(max(1, size))
        do {
            reader = try CSVReader(url: url)
            guard let first = try reader.next() else { throw BatchRejection(line: 1, reason: "the file is empty; a CSV batch needs a header row and rows") }
            header = first.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        } catch let error as CSVReadError {
            throw BatchRejection(line: error.line, reason: error.reason)
        }
        var seen: [String: String] = [:]
        for (index, name) in header.enumerated() {
            if name.isEmpty { throw BatchRejection(line: 1, reason: "column \(index + 1) of the header has no name") }
            let canonical = ReservedColumn.canonical(name)
            if let earlier = seen[canonical] {
                throw BatchRejection(line: 1, reason: earlier == name ? "column '\(name)' appears twice in the header"
                                                                       : "columns '\(earlier)' and '\(name)' both name the reserved column '\(canonical)'")
            }
            seen[canonical] = name
        }
        header = header.map(ReservedColumn.canonical)
        if !header.contains("template") && impliedTemplate == nil {
            throw BatchRejection(line: 1, reason: "no template named: add a 'template' column, or name the file CODE.anything.csv after a template in templates/ (there is no template '\(impliedCode)')")
        }
        template = impliedTemplate
    }

    var progress: Double { min(1, Double(reader.bytesRead) / size) }

    func next() throws -> BatchRecord? {
        let record: CSVRecord
        do {
            guard let next = try reader.next() else { return nil }
            record = next
        } catch let error as CSVReadError {
            throw BatchRejection(line: error.line, reason: error.reason)
        }
        rowNumber += 1
        if let problem = record.problem {
            return .unreadable(row: rowNumber, line: record.line, reason: problem)
        }
        guard record.fields.count == header.count else {
            return .unreadable(row: rowNumber, line: record.line,
                               reason: "\(record.fields.count) fields, but the header has \(header.count) columns; quote fields that contain commas")
        }
        let values = zip(header, record.fields).map { ($0, Optional($1)) }
        return .row(BatchReaders.row(number: rowNumber, line: record.line, values: values, template: template, channels: nil))
    }
}

/// JSON batches: `{"id", "template", "channels", "params", "recipients": [...]}`, streamed.
///
/// A first pass checks that the whole file is JSON (so a broken file sends nothing) and reads the
/// batch's own fields wherever they stand, skipping over `recipients`; then recipients are read one
/// at a time from where the array starts. Memory stays flat however many recipients there are.
final class JSONBatchReader: BatchReader {
    let declaredID: String?
    private let stream: JSONStream
    private let template: String?
    private let channels: [String]?
    private let defaults: [String: String]
    /// The batch's `send_at`, for rows without their own.
    private let sendAt: String?
    private let size: Double
    private var index = 0
    private var finished = false

    init(url: URL, impliedTemplate: String?) throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        self.size = Double(max(1, size))
        var fields: [String: Any] = [:]
        var recipients: (offset: UInt64, line: Int)?
        var anyTemplateInRecipients = false
        do {
            let scan = try JSONStream(url: url)
            try scan.skipSpace()
            if try scan.peek() == 0xEF { for _ in 0..<3 { try scan.next() } }  // a UTF-8 BOM
            try scan.skipSpace()
            guard try scan.peek() == UInt8(ascii: "{") else {
                if try scan.peek() == nil { throw BatchRejection(line: 1, reason: "the file is empty; a JSON batch is an object with a \"recipients\" array") }
                try scan.skipValue()
                throw BatchRejection(reason: "a JSON batch is an object with a \"recipients\" array (use .jsonl for one recipient per line)")
            }
            try scan.members(inside: "the batch object") { key in
                try scan.skipSpace()
                if key == "recipients" {
                    guard try scan.peek() == UInt8(ascii: "[") else {
                        throw BatchRejection(line: scan.line, reason: "\"recipients\" must be an array of recipient objects")
                    }
                    recipients = (scan.offset, scan.line)
                    anyTemplateInRecipients = try Self.skipRecipients(scan) || anyTemplateInRecipients
                } else {
                    let bytes = try scan.captureValue()
                    guard fields[key] == nil else { throw BatchRejection(line: scan.line, reason: "the batch names \(Echo.quoted(key)) twice; write each key once") }
                    if let problem = StrictJSON.duplicateKeyProblem(in: bytes) { throw BatchRejection(line: scan.line, reason: "\(Echo.quoted(key)): \(problem)") }
                    fields[key] = try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)
                }
            }
            try scan.skipSpace()
            if try scan.peek() != nil { throw scan.error("text after the batch object") }
        } catch let error as JSONSyntaxError {
            throw BatchRejection(line: error.line, reason: "not valid JSON: \(error.reason) (column \(error.column))")
        }
        guard let recipients else {
            throw BatchRejection(reason: "the batch has no \"recipients\" array")
        }
        declaredID = JSONValues.string(fields["id"])
        if fields["id"] != nil && declaredID == nil { throw BatchRejection(reason: "the batch \"id\" must be a string or a number") }
        if let declaredID, let problem = BatchContext.declaredIDProblem(
            declaredID, ingested: declaredID.hasPrefix("api:") && IngestBatchFile.isGenuine(url)) {
            throw BatchRejection(reason: "\"id\": \(problem)")
        }
        template = JSONValues.string(fields["template"]) ?? impliedTemplate
        channels = JSONValues.channels(fields["channels"])
        defaults = JSONValues.parameters(fields["params"])
        sendAt = JSONValues.string(fields["send_at"])
        if fields["send_at"] != nil && sendAt == nil { throw BatchRejection(reason: "the batch \"send_at\" must be a date-time string") }
        if template == nil && !anyTemplateInRecipients {
            throw BatchRejection(reason: "no template named: add \"template\" to the batch or to each recipient")
        }
        stream = try JSONStream(url: url, offset: recipients.offset, line: recipients.line)
        try stream.next()  // the array's [
    }

    /// Skips the recipients array, checking its syntax; says whether any recipient names a template.
    private static func skipRecipients(_ scan: JSONStream) throws -> Bool {
        var namesTemplate = false
        try scan.elements(inside: "\"recipients\"") {
            try scan.skipSpace()
            guard try scan.peek() == UInt8(ascii: "{") else { return try scan.skipValue(depth: 1) }
            // Look at this recipient's keys for "template", skipping their values.
            try scan.members(inside: "a recipient") { key in
                if key == "template" { namesTemplate = true }
                try scan.skipValue(depth: 2)
            }
        }
        return namesTemplate
    }

    var progress: Double { min(1, Double(stream.offset) / size) }

    func next() throws -> BatchRecord? {
        guard !finished else { return nil }
        do {
            try stream.skipSpace()
            if index > 0 {
                // After a recipient: ',' and the next, or ']' and the end.
                if try stream.next() == UInt8(ascii: "]") {
                    finished = true
                    return nil
                }
                try stream.skipSpace()
            } else if try stream.peek() == UInt8(ascii: "]") {
                finished = true
                return nil
            }
            index += 1
            let line = stream.line
            guard let bytes = try stream.captureValue(limit: CSVReader.largestRecord) else {
                return .unreadable(row: index, line: line,
                                   reason: "recipient \(index) is longer than \(CSVReader.largestRecord >> 20) MB; rows are read up to \(CSVReader.largestRecord >> 20) MB")
            }
            guard let object = try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed) as? [String: Any] else {
                return .unreadable(row: index, line: line, reason: "recipient \(index) is not a JSON object")
            }
            if let problem = StrictJSON.duplicateKeyProblem(in: bytes) { return .unreadable(row: index, line: line, reason: problem) }
            if let problem = JSONValues.structuredValueProblem(object) { return .unreadable(row: index, line: line, reason: problem) }
            var row = JSONValues.row(object, number: index, line: line, defaults: defaults, template: template, channels: channels)
            if row.sendAt == nil { row.sendAt = sendAt }
            return .row(row)
        } catch {
            // The first pass read this very text; changing under us means the file was rewritten.
            throw BatchRejection(line: stream.line, reason: "the file changed while it was being read (\(error)); drop it again")
        }
    }
}

/// JSON lines batches: one recipient object per line, each naming its template
/// (or the file name does). A line that does not parse is an invalid row; the batch goes on.
final class JSONLinesBatchReader: BatchReader {
    let declaredID: String? = nil
    private let lines: LineReader
    private let template: String?
    private var rowNumber = 0

    init(url: URL, impliedTemplate: String?) throws {
        lines = try LineReader(url: url, limit: CSVReader.largestRecord)
        template = impliedTemplate
    }

    var progress: Double { lines.progress }

    func next() throws -> BatchRecord? {
        while let (line, bytes) = try lines.next() {
            if lines.lastWasTooLong {
                rowNumber += 1
                return .unreadable(row: rowNumber, line: line,
                                   reason: "the line is longer than \(CSVReader.largestRecord >> 20) MB; rows are read up to \(CSVReader.largestRecord >> 20) MB")
            }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            rowNumber += 1
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: Data(bytes))
            } catch {
                return .unreadable(row: rowNumber, line: line, reason: "not valid JSON: \(JSONValues.describe(error))")
            }
            guard let recipient = object as? [String: Any] else {
                return .unreadable(row: rowNumber, line: line, reason: "each line must be one JSON object")
            }
            if let problem = StrictJSON.duplicateKeyProblem(in: bytes) { return .unreadable(row: rowNumber, line: line, reason: problem) }
            if let problem = JSONValues.structuredValueProblem(recipient) { return .unreadable(row: rowNumber, line: line, reason: problem) }
            return .row(JSONValues.row(recipient, number: rowNumber, line: line, defaults: [:], template: template, channels: nil))
        }
        return nil
    }
}

/// Reads a file line by line in 64 KiB chunks. With a `limit`, a longer line is skipped as it is
/// read (never held): it comes back empty, with `lastWasTooLong` set.
final class LineReader {
    private let handle: FileHandle
    private var pending: [UInt8] = []
    private var line = 0
    private var done = false
    private let size: Double
    private var consumed = 0
    private let limit: Int?
    private var skipping = false
    /// Whether the line `next()` returned last was over the limit (and came back empty).
    private(set) var lastWasTooLong = false

    init(url: URL, limit: Int? = nil) throws {
        self.limit = limit
        handle = try FileHandle(forReadingFrom: url)
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
        self.size = Double(max(1, size))
    }

    deinit {
        try? handle.close()
    }

    var progress: Double { min(1, Double(consumed) / size) }

    func next() throws -> (Int, [UInt8])? {
        while true {
            if let newline = pending.firstIndex(of: 0x0A) {
                var bytes = Array(pending[..<newline])
                pending.removeSubrange(...newline)
                consumed += bytes.count + 1
                if line == 0, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
                line += 1
                lastWasTooLong = skipping || (limit.map { bytes.count > $0 } ?? false)
                skipping = false
                return (line, lastWasTooLong ? [] : bytes)
            }
            if done {
                guard !pending.isEmpty || skipping else { return nil }
                let bytes = pending
                pending = []
                consumed += bytes.count
                line += 1
                lastWasTooLong = skipping || (limit.map { bytes.count > $0 } ?? false)
                skipping = false
                return (line, lastWasTooLong ? [] : bytes)
            }
            if let limit, pending.count > limit {
                // No line end within the limit: drop what came, and the rest of the line as it comes.
                consumed += pending.count
                pending = []
                skipping = true
            }
            let chunk = try handle.read(upToCount: 64 * 1024) ?? Data()
            if chunk.isEmpty { done = true } else { pending += chunk }
        }
    }
}

/// Conversions from JSONSerialization values.
enum JSONValues {
    static func string(_ value: Any?) -> String? {
        switch value {
        case let string as String: return string
        case let number as NSNumber:
            if String(cString: number.objCType) == "c" { return number.boolValue ? "true" : "false" }
            return number.stringValue
        default: return nil
        }
    }

    /// Why a row's value cannot be used, when one is an object or an array where a single value
    /// belongs (a parameter, or a reserved key other than the lists): dropped, it would have been
    /// reported as missing.
    static func structuredValueProblem(_ object: [String: Any]) -> String? {
        func kind(_ value: Any) -> String? {
            switch value {
            case is [String: Any]: "an object"
            case is [Any]: "an array"
            default: nil
            }
        }
        for name in object.keys.sorted() {
            let key = ReservedColumn.canonical(name)
            guard let value = object[name] else { continue }
            if key == "params", let params = value as? [String: Any] {
                for (param, inner) in params.sorted(by: { $0.key < $1.key }) {
                    if let kind = kind(inner) { return "parameter '\(param)' is \(kind); a parameter is a string or a number" }
                }
                continue
            }
            guard !["params", "channels", "cc", "bcc", "attachments"].contains(key), let kind = kind(value) else { continue }
            return "'\(name)' is \(kind); a value of a row is a string or a number"
        }
        return nil
    }

    static func channels(_ value: Any?) -> [String]? {
        if let list = value as? [Any] { return list.compactMap { string($0) } }
        return string(value).map(BatchReaders.splitChannels)
    }

    static func parameters(_ value: Any?) -> [String: String] {
        guard let object = value as? [String: Any] else { return [:] }
        return object.reduce(into: [:]) { result, pair in
            if let text = string(pair.value) { result[pair.key] = text }
        }
    }

    static func row(_ object: [String: Any], number: Int, line: Int?, defaults: [String: String],
                    template: String?, channels: [String]?) -> RecipientRow {
        var values: [(String, String?)] = []
        var parameters = defaults
        for (name, value) in object {
            let key = ReservedColumn.canonical(name)
            switch key {
            case "params": parameters.merge(Self.parameters(value)) { _, new in new }
            case "channels": values.append((key, JSONValues.channels(value).map { $0.joined(separator: "|") }))
            case "cc", "bcc", "attachments":
                if let list = value as? [Any] {
                    values.append((key, list.compactMap { string($0) }.joined(separator: "|")))
                } else {
                    values.append((key, string(value)))
                }
            default: values.append((key, string(value)))
            }
        }
        return BatchReaders.row(number: number, line: line, values: values.sorted { $0.0 < $1.0 }, defaults: parameters,
                                template: template, channels: channels)
    }

    static func describe(_ error: Error) -> String {
        let text = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        return text ?? error.localizedDescription
    }
}
