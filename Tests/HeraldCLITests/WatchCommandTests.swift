import Foundation
import Testing
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
        let deadline = Date().addingTimeInterval(20)
        while sentLines(workspace).count < 3000 && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        // Both watchers keep polling for a while: a double send would show up as a 3001st line.
        Thread.sleep(forTimeInterval: 0.5)
        let sent = sentLines(workspace)
        #expect(sent.count == 3000, "each row is sent (and logged sent) exactly once")
        #expect(Set(sent).count == 3000)
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("recipients/processed").path).count == 3)
        for process in [first, second] {
            process.terminate() // SIGTERM
            process.waitUntilExit()
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 0)
        }
    }
}
