import Foundation

/// A workspace folder built from inline strings in a fresh temporary directory, removed when
/// the value goes away.
///
/// ```swift
/// let workspace = try TemporaryWorkspace(files: ["herald.yaml": TemporaryWorkspace.sampleConfiguration,
///                                                "templates/hello.yaml": "site: {content: hi}"])
/// ```
public final class TemporaryWorkspace: @unchecked Sendable {
    /// The folder.
    public let url: URL

    /// Creates the folder and writes `files` (paths relative to it).
    public init(files: [String: String] = [:]) throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("herald-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (path, contents) in files {
            try write(path, contents)
        }
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes `contents` at `path`, creating folders.
    public func write(_ path: String, _ contents: String) throws {
        try write(path, Data(contents.utf8))
    }

    /// Writes bytes at `path`, creating folders.
    public func write(_ path: String, _ data: Data) throws {
        let file = url.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
    }

    /// Reads a file as UTF-8.
    public func read(_ path: String) throws -> String {
        try String(contentsOf: url.appendingPathComponent(path), encoding: .utf8)
    }

    /// Every line of `outbox/log/*.jsonl`, in day order, decoded (a line that is not a JSON
    /// object is left out).
    public func logEvents() throws -> [[String: Any]] {
        let folder = url.appendingPathComponent("outbox/log")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
        return try names.flatMap { name in
            try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8).split(separator: "\n").compactMap {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
    }

    /// The text of every `outbox/log/*.jsonl`, in day order (not the index beside them).
    public func logText() throws -> String {
        let folder = url.appendingPathComponent("outbox/log")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
        return try names.map { try String(contentsOf: folder.appendingPathComponent($0), encoding: .utf8) }.joined()
    }

    /// Whether `path` exists.
    public func exists(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: url.appendingPathComponent(path).path)
    }

    /// A herald.yaml with one account, channel and app of each kind, all on the file transport.
    public static let sampleConfiguration = """
        timezone: Asia/Shanghai
        site: {transport: file}
        mail:
          accounts:
            default: {transport: file, from: noreply@shop.example.com}
        sms:
          channels:
            aliyun: {transport: file, signature: 云商城}
            tencent: {transport: file, signature: 云商城}
        wechat:
          apps:
            mp: {transport: file, kind: official_account}
            mini: {transport: file, kind: mini_program}

        """
}
