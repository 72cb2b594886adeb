import Crypto
import Foundation
import HeraldCore

/// `Idempotency-Key` records of an embedded workspace: one JSON file per key in
/// `outbox/ingest/` (named by the key's SHA-256). A claim is a `link(2)` of a fully written,
/// fsynced file to that name, which the file system lets exactly one process or task win.
struct FileIngestRecords: IngestRecords {
    let folder: URL

    func claim(key: String, bodyHash: String, response: String) async throws -> IngestClaim {
        let record = url(of: key)
        let claim = try JSONSerialization.data(withJSONObject: ["key": key, "body_sha256": bodyHash, "response": response, "settled": false],
                                               options: [.sortedKeys, .withoutEscapingSlashes])
        let scratch = folder.appendingPathComponent("tmp", isDirectory: true)
        let tmp = scratch.appendingPathComponent("claim.\(UUID().uuidString.lowercased())")
        try DurableFile.write(claim, to: tmp)
        defer { unlink(tmp.path) }
        if link(tmp.path, record.path) == 0 { return .won }
        guard errno == EEXIST else { throw DurableFileError(path: record.path, reason: String(cString: strerror(errno))) }
        let data = try Data(contentsOf: record)
        guard let stored = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let hash = stored["body_sha256"] as? String else {
            throw DurableFileError(path: record.path, reason: "not an Idempotency-Key record")
        }
        // Records written before claims existed hold the response as an object, written once queued.
        let answer = try (stored["response"] as? String)
            ?? String(decoding: try JSONSerialization.data(withJSONObject: stored["response"] ?? [:], options: [.sortedKeys, .withoutEscapingSlashes]),
                      as: UTF8.self)
        let modified = (try? FileManager.default.attributesOfItem(atPath: record.path)[.modificationDate] as? Date) ?? nil
        return .taken(bodyHash: hash, response: answer, settled: stored["settled"] as? Bool ?? true,
                      age: modified.map { Date().timeIntervalSince($0) } ?? 0)
    }

    func settle(key: String) async throws {
        let record = url(of: key)
        guard var stored = try JSONSerialization.jsonObject(with: Data(contentsOf: record)) as? [String: Any] else {
            throw DurableFileError(path: record.path, reason: "not an Idempotency-Key record")
        }
        stored["settled"] = true
        try DurableFile.write(try JSONSerialization.data(withJSONObject: stored, options: [.sortedKeys, .withoutEscapingSlashes]), to: record)
    }

    private func url(of key: String) -> URL {
        folder.appendingPathComponent("\(Hex.encode(SHA256.hash(data: Data(key.utf8)))).json")
    }
}
