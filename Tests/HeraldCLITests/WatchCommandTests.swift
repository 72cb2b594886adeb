import Foundation
import Testing
import HeraldTestSupport

/// `herald watch` as a process: picks up files as they arrive, two watchers never double-send,
/// and SIGTERM stops it cleanly.
@Suite struct WatchCommandTests {
    /// The message ids of every `sent` log line. (Not the files in outbox/sent/: the file
    /// transport rewrites `<id>.json` on a second send, so files cannot show a double send.)
    func sentLines(_ workspace: TemporaryWorkspace) -> [String] {
        let folder = workspace.url.appendingPathComponent("outbox/log")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).filter { $0.hasSuffix(".jsonl") }
        return names.flatMap { name -> [String] in
            let text = (try? String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line in
                guard let event = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      event["status"] as? String == "sent" else { return nil }
                return event["message_id"] as? String
            }
        }
    }

    func startWatch(_ workspace: TemporaryWorkspace) throws -> Process {
        let process = Process()
        process.executableURL = heraldExecutable()
        process.arguments = ["watch", "--interval", "100ms"]
        process.currentDirectoryURL = workspace.url
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test func twoWatchersSendEachRowOnceAndStopOnSIGTERM() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "inbox: {settle: 0s}\nsite: {transport: file}\n",
            "templates/hello.yaml": "site: {content: \"你好 {name}\"}\n",
        ])
        let first = try startWatch(workspace), second = try startWatch(workspace)
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
