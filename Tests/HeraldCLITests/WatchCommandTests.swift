import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

/// `herald watch` as a process: picks up files as they arrive, two watchers never double-send,
/// and SIGTERM stops it cleanly.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct WatchCommandTests {
    /// The message ids of every `sent` log line. (Not the files in outbox/sent/: the file
    /// transport rewrites `<id>.json` on a second send, so files cannot show a double send.)
    func sentLines(_ workspace: TemporaryWorkspace) -> [String] {
        ((try? workspace.logEvents()) ?? []).filter { $0["status"] as? String == "sent" }.compactMap { $0["message_id"] as? String }
    }

    @Test func twoWatchersSendEachRowOnceAndStopOnSIGTERM() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "inbox: {settle: 0s}\nsite: {transport: file}\n",
            "templates/hello.yaml": "site: {content: \"你好 {name}\"}\n",
        ])
        let first = try startHerald(["watch", "--interval", "100ms"], in: workspace.url)
        let second = try startHerald(["watch", "--interval", "100ms"], in: workspace.url)
        for file in 1...3 {
            // Files big enough that a file takes longer than a watch interval: without the
            // workspace lock both watchers would be reading the same file at once.
            let rows = (1...1000).map { "u\(file)-\($0),用户\($0)" }.joined(separator: "\n")
            try workspace.write("recipients/inbox/hello.\(file).csv.tmp", "user_id,name\n\(rows)\n")
            try FileManager.default.moveItem(at: workspace.url.appendingPathComponent("recipients/inbox/hello.\(file).csv.tmp"),
                                             to: workspace.url.appendingPathComponent("recipients/inbox/hello.\(file).csv"))
        }
        waitUntil(seconds: 20) { sentLines(workspace).count >= 3000 }
        // Two more files go through after the three: watchers that would send a row twice had
        // their cycles (a double send would show up as a 3001st line).
        for probe in ["y", "z"] {
            try workspace.write("recipients/inbox/hello.\(probe).csv", "user_id,name\nprobe-\(probe),探针\n")
            #expect(waitUntil(seconds: 30) { workspace.exists("recipients/processed/hello.\(probe).csv") })
        }
        let sent = ((try? workspace.logEvents()) ?? [])
            .filter { $0["status"] as? String == "sent" && !["hello.y.csv", "hello.z.csv"].contains($0["file"] as? String ?? "") }
            .compactMap { $0["message_id"] as? String }
        #expect(sent.count == 3000, "each row is sent (and logged sent) exactly once")
        #expect(Set(sent).count == 3000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("recipients/processed").path).count == 5)
        for process in [first, second] {
            #expect(process.terminates(within: .seconds(30)), "SIGTERM ends the watch")
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 0)
        }
    }

    @Test func aScheduledRowIsSentWithinOneIntervalOfItsTimeAndACancelledOneNever() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "inbox: {settle: 0s}\ncaps: {sms: [none]}\nsms:\n  channels:\n    aliyun: {transport: file, signature: 云商城}\n",
            "templates/code.yaml": "category: verification\nsms: {channel: aliyun, api_template_id: SMS_1, content: \"验证码{code}\"}\n",
        ])
        let watch = try startHerald(["watch", "--interval", "1s"], in: workspace.url)
        defer { if watch.isRunning { watch.terminate() } }
        let due = Date().addingTimeInterval(3).timeIntervalSince1970.rounded(.up)
        let at = Timestamp.iso8601(Date(timeIntervalSince1970: due), timeZone: TimeZone(identifier: "UTC")!)
        try workspace.write("recipients/inbox/code.a.csv", "mobile,code,send_at\n13800138000,1111,\(at)\n13800138001,2222,\(at)\n13800138002,3333,\n")
        func lines(_ status: String) -> [[String: Any]] {
            ((try? workspace.logEvents()) ?? []).filter { $0["status"] as? String == status }
        }
        waitUntil(seconds: 10) { lines("scheduled").count >= 2 }
        let scheduled = lines("scheduled").compactMap { $0["message_id"] as? String }
        #expect(scheduled.count == 2 && lines("sent").count == 1, "the row without send_at went at once")
        let cancelled = try #require(scheduled.last)
        let cancel = try runHerald(["schedule", "cancel", "--message", cancelled], in: workspace.url)
        #expect(cancel.status == 0, "\(cancel.stdout)\(cancel.stderr)")

        waitUntil(seconds: 10) { lines("sent").count >= 2 }
        // The cancelled one's time passes too: a file dropped after it is taken by a cycle that
        // drained the spool first.
        #expect(waitUntil(seconds: 10) { Date().timeIntervalSince1970 > due + 0.1 })
        try workspace.write("recipients/inbox/code.probe.csv", "mobile,code\n13800138009,9999\n")
        #expect(waitUntil(seconds: 30) { FileManager.default.fileExists(atPath: workspace.url.appendingPathComponent("recipients/processed/code.probe.csv").path) })
        #expect(watch.terminates(within: .seconds(30)), "SIGTERM ends the watch")
        let sent = lines("sent").filter { $0["file"] as? String != "code.probe.csv" }
        #expect(sent.count == 2, "the scheduled row went, the cancelled one did not")
        let late = try #require(sent.first { $0["message_id"] as? String == scheduled.first }?["ts"] as? String)
        let sentAt = try #require(Timestamp.parse(late)).timeIntervalSince1970
        #expect(sentAt >= due, "not before its time: \(late) vs \(at)")
        #expect(sentAt - due <= 1.5, "within one watch interval (1s) of its time: \(late) vs \(at)")
        #expect(lines("cancelled").compactMap { $0["message_id"] as? String } == [cancelled])
        #expect(!sent.contains { $0["message_id"] as? String == cancelled })
    }

    @Test func aFileRenamedInIsTakenAtOnceAndOneWrittenInPlaceWaitsForTheSettleTime() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "inbox: {settle: 3s}\nwatch: {interval: 10s}\nsite: {transport: file}\n",
            "templates/hello.yaml": "category: verification\nsite: {content: \"你好 {name}\"}\n",
        ])
        let watch = try startHerald(["watch"], in: workspace.url)
        defer { if watch.isRunning { watch.terminate() } }
        func processed(_ name: String) -> Bool { workspace.exists("recipients/processed/\(name)") }
        func renameIn(_ name: String, _ text: String) throws {
            try workspace.write("recipients/inbox/\(name).tmp", text)
            try FileManager.default.moveItem(at: workspace.url.appendingPathComponent("recipients/inbox/\(name).tmp"),
                                             to: workspace.url.appendingPathComponent("recipients/inbox/\(name)"))
        }
        func wait(for name: String, seconds: Double) {
            waitUntil(seconds: seconds) { processed(name) }
        }
        // Ready when a first renamed file has been taken (instead of sleeping and hoping).
        try renameIn("hello.probe.csv", "user_id,name\n0,探针\n")
        wait(for: "hello.probe.csv", seconds: 60)
        #expect(processed("hello.probe.csv"))

        // Renamed in: complete by definition. Taken before the settle time (3 s) has passed, it
        // was taken on the rename: a poll (every 10 s) would also have waited for the settle time.
        let start = Date()
        try renameIn("hello.a.csv", "user_id,name\n1,李雷\n")
        wait(for: "hello.a.csv", seconds: 15)
        #expect(processed("hello.a.csv"))
        #expect(Date().timeIntervalSince(start) < 3, "taken on the rename, not after the settle time")

        // Written in place: it may still be growing, so it waits for the settle time. Its log
        // line says when it was taken: at least the settle time after it was written.
        let inPlace = Date()
        try workspace.write("recipients/inbox/hello.b.csv", "user_id,name\n2,韩梅梅\n")
        wait(for: "hello.b.csv", seconds: 30)
        #expect(processed("hello.b.csv"), "taken once it settled")
        let line = try #require(try workspace.logEvents().first { $0["file"] as? String == "hello.b.csv" })
        let taken = try #require((line["ts"] as? String).flatMap { Timestamp.parse($0) })
        #expect(taken.timeIntervalSince(inPlace) >= 2.9, "not before the settle time: \(taken.timeIntervalSince(inPlace)) s")
        #expect(watch.terminates(within: .seconds(30)), "SIGTERM ends the watch")
        #expect(watch.terminationStatus == 0)
    }
}
