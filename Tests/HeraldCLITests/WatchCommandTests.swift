import Foundation
import Testing
import HeraldTestSupport

/// `herald watch` as a process: picks up files as they arrive, two watchers never double-send,
/// and SIGTERM stops it cleanly.
@Suite struct WatchCommandTests {
    func sentFiles(_ workspace: TemporaryWorkspace) -> Int {
        let folder = workspace.url.appendingPathComponent("outbox/sent/site")
        let enumerator = FileManager.default.enumerator(atPath: folder.path)
        return (enumerator?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".json") }.count
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
            let rows = (1...50).map { "u\(file)-\($0),用户\($0)" }.joined(separator: "\n")
            try workspace.write("recipients/inbox/hello.\(file).csv.tmp", "user_id,name\n\(rows)\n")
            try FileManager.default.moveItem(at: workspace.url.appendingPathComponent("recipients/inbox/hello.\(file).csv.tmp"),
                                             to: workspace.url.appendingPathComponent("recipients/inbox/hello.\(file).csv"))
        }
        let deadline = Date().addingTimeInterval(20)
        while sentFiles(workspace) < 150 && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(sentFiles(workspace) == 150)
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("recipients/processed").path).count == 3)
        for process in [first, second] {
            process.terminate() // SIGTERM
            process.waitUntilExit()
            #expect(process.terminationReason == .exit)
            #expect(process.terminationStatus == 0)
        }
    }
}
