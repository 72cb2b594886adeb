import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct TraceIndexTests {
    let zone = TimeZone(identifier: "Asia/Shanghai")!
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    func event(_ id: String, row: Int, channel: Channel, address: String, user: String?, status: DeliveryStatus = .sent,
               at offset: TimeInterval = 0, escalatedFrom: String? = nil) -> LogEvent {
        var event = LogEvent(timestamp: t0.addingTimeInterval(offset), messageID: MessageID(id), batch: "b", file: "a.csv", row: row,
                             channel: channel, recipient: RecipientMasking.masked.apply(address, channel: channel), status: status)
        event.traceAddress = address
        event.traceUser = user
        event.escalatedFrom = escalatedFrom
        return event
    }

    func log(_ folder: URL, _ events: [LogEvent]) throws {
        let log = try JSONLinesLog(directory: folder, timeZone: zone)
        try log.append(events)
        try log.flush()
    }

    @Test func findsAMessageARecipientOrAUserWithoutReadingEveryLine() throws {
        let workspace = try TemporaryWorkspace()
        let folder = workspace.url.appendingPathComponent("outbox/log")
        var events: [LogEvent] = []
        for row in 1...500 {
            events.append(event("m\(row)-site", row: row, channel: .site, address: "u\(row)", user: "u\(row)"))
            events.append(event("m\(row)-mail", row: row, channel: .mail, address: "User\(row)@Example.com", user: "u\(row)"))
        }
        events.append(event("m7-sms", row: 7, channel: .sms, address: "+8613800138007", user: "u7", at: 60, escalatedFrom: "m7-site"))
        events.append(event("m7-mail", row: 7, channel: .mail, address: "user7@example.com", user: "u7", status: .undelivered, at: 120))
        try log(folder, Array(events.prefix(600)))
        try log(folder, Array(events.dropFirst(600)))
        let index = TraceIndex(logDirectory: folder)

        let mail = try index.lines(matching: .message("m7-mail"))
        #expect(mail.count == 2 && mail.allSatisfy { $0.text.contains("\"message_id\":\"m7-mail\"") })
        #expect(mail[1].text.contains("\"status\":\"undelivered\""))
        let site = try index.lines(matching: .message("m7-site"))
        #expect(site.map { $0.text.contains("m7-sms") } == [false, true], "the escalation that came from it is found with it")
        let byAddress = try index.lines(matching: .address("user7@EXAMPLE.com"))
        #expect(byAddress.count == 2, "addresses are normalised like suppressions; \(byAddress.map(\.text))")
        #expect(try index.lines(matching: .address("13800138007")).count == 1, "a mobile in any form")
        let byUser = try index.lines(matching: .user("u7"))
        #expect(Set(byUser.compactMap { Self.id($0.text) }) == ["m7-site", "m7-mail", "m7-sms"])
        #expect(try index.lines(matching: .user("u7"), since: "2099-01-01").isEmpty)
        #expect(try index.lines(matching: .address("nobody@example.com")).isEmpty)
        #expect(try index.latestMail(to: "user7@example.com") == MessageID("m7-mail"))
        // The index holds hashes under the workspace key, never an address.
        let idx = try #require(FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent(".index").path).first { $0.hasSuffix(".idx") })
        let bytes = try Data(contentsOf: folder.appendingPathComponent(".index/\(idx)"))
        #expect(bytes.count == 1002 * 40)
        #expect(bytes.range(of: Data("example.com".utf8)) == nil)
    }

    static func id(_ line: String) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["message_id"] as? String
    }

    @Test func linesTheIndexMissedAreIndexedWhenAsked() throws {
        let workspace = try TemporaryWorkspace()
        let folder = workspace.url.appendingPathComponent("outbox/log")
        try log(folder, (1...20).map { event("m\($0)", row: $0, channel: .mail, address: "u\($0)@example.com", user: nil) })
        let idx = try #require(FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent(".index").path).first { $0.hasSuffix(".idx") })
        let url = folder.appendingPathComponent(".index/\(idx)")
        // A crash between the log line and its index record: the last five records are lost, and
        // the one before them was half written.
        let data = try Data(contentsOf: url)
        try data.prefix(15 * 40 - 13).write(to: url)
        let index = TraceIndex(logDirectory: folder)
        #expect(try index.lines(matching: .message("m18")).count == 1)
        #expect(try Data(contentsOf: url).count == 20 * 40, "the half record is cut off and the missing ones written back")
        #expect(try index.lines(matching: .message("m15")).count == 1)
        #expect(try index.lines(matching: .message("m3")).count == 1)

        // A log from before the index (or copied from another worker without it): indexed whole.
        try FileManager.default.removeItem(at: folder.appendingPathComponent(".index"))
        #expect(try index.lines(matching: .message("m12")).count == 1)
        #expect(try index.lines(matching: .address("u12@example.com")).isEmpty, "a masked recipient cannot be indexed by address")
    }

    // Issue 26: after the index was deleted, a search by address in a masked log answered
    // "nothing found" forever; a truncated or overwritten index, or a replaced key, answered
    // nothing without a word; an index with every byte flipped killed `herald trace` (a trap).
    @Test func aDamagedOrRebuiltIndexSaysWhatItCannotAnswer() throws {
        let workspace = try TemporaryWorkspace()
        let folder = workspace.url.appendingPathComponent("outbox/log")
        try log(folder, (1...20).map { event("m\($0)", row: $0, channel: .mail, address: "u\($0)@example.com", user: "user\($0)") })
        let index = TraceIndex(logDirectory: folder)
        let indexFolder = folder.appendingPathComponent(".index")
        let idx = try #require(FileManager.default.contentsOfDirectory(atPath: indexFolder.path).first { $0.hasSuffix(".idx") })
        let url = indexFolder.appendingPathComponent(idx)
        #expect(try index.search(.address("u3@example.com")) .lines.count == 1)
        #expect(try index.search(.address("u3@example.com")).warnings.isEmpty)

        // Every byte flipped: no trap, the index is set aside and rebuilt, and the answer says so.
        try Data(try Data(contentsOf: url).map { ~$0 }).write(to: url)
        let flipped = try index.search(.address("u3@example.com"))
        #expect(flipped.lines.isEmpty)
        #expect(flipped.warnings.contains { $0.contains("the index was damaged") }, "\(flipped.warnings)")
        #expect(flipped.warnings.contains { $0.contains("masks recipients") }, "why an address cannot be found: \(flipped.warnings)")
        #expect(FileManager.default.fileExists(atPath: url.path + ".damaged"))
        #expect(try index.search(.message("m3")).lines.count == 1, "by message id it still answers")
        #expect(try index.search(.user("user3")).warnings.contains { $0.contains("does not hold user ids") })

        // Made with another key (the key file replaced): records that do not match the lines.
        try FileManager.default.removeItem(at: indexFolder)
        try log(folder, [event("m21", row: 21, channel: .mail, address: "u21@example.com", user: "user21", at: 1)])
        try DurableFile.write(Data("1234abcd\n".utf8), to: indexFolder.appendingPathComponent("key"))
        let rekeyed = try index.search(.message("m21"))
        #expect(rekeyed.lines.count == 1 && rekeyed.warnings.contains { $0.contains("made with another key") }, "\(rekeyed.warnings)")

        // Deleted: rebuilt from a masked log, which cannot answer by address, and says so.
        try FileManager.default.removeItem(at: url)
        let deleted = try index.search(.address("u21@example.com"))
        #expect(deleted.lines.isEmpty && deleted.warnings.contains { $0.contains("masks recipients") })
    }

    @Test func twoWritersOfOneDayNeitherOverwriteNorMisindexEachOther() throws {
        let workspace = try TemporaryWorkspace()
        let folder = workspace.url.appendingPathComponent("outbox/log")
        // Two processes' logs (a watcher, and `herald bounces ingest` beside it), turn about.
        let first = try JSONLinesLog(directory: folder, timeZone: zone), second = try JSONLinesLog(directory: folder, timeZone: zone)
        for row in 1...10 {
            try (row % 2 == 0 ? first : second).append([event("m\(row)", row: row, channel: .mail, address: "u\(row)@example.com", user: "u\(row)")])
        }
        let day = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasSuffix(".jsonl") })
        let lines = try String(contentsOf: folder.appendingPathComponent(day), encoding: .utf8).split(separator: "\n")
        #expect(lines.compactMap { Self.id(String($0)) } == (1...10).map { "m\($0)" }, "every line whole, in order")
        let index = TraceIndex(logDirectory: folder)
        for row in 1...10 {
            #expect(try index.lines(matching: .user("u\(row)")).map { Self.id($0.text) } == ["m\(row)"])
        }
    }

    @Test func aLogFolderWhoseIndexCannotBeWrittenIsSearchedInMemory() throws {
        let workspace = try TemporaryWorkspace()
        let folder = workspace.url.appendingPathComponent("outbox/log")
        try log(folder, (1...5).map { event("m\($0)", row: $0, channel: .mail, address: "u\($0)@example.com", user: "u\($0)") })
        // Another worker's logs copied without their index, where no index can be made (a file
        // stands where the folder would; a read-only mount behaves the same).
        try FileManager.default.removeItem(at: folder.appendingPathComponent(".index"))
        try Data("not a folder".utf8).write(to: folder.appendingPathComponent(".index"))
        let index = TraceIndex(logDirectory: folder)
        #expect(try index.lines(matching: .message("m3")).map { Self.id($0.text) } == ["m3"])
        #expect(try index.lines(matching: .message("m9")).isEmpty)
    }
}
