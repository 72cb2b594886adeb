// herald-bench: in-process timings for the benchmark scripts in .ci/bench/ (not a test, not
// part of the herald command). Usage:
//   herald-bench inbox WORKSPACE USER [RUNS]   unread-count and the first page of list, RUNS times each
import Foundation
import HeraldCore
import HeraldInbox
import HeraldSQLite

/// Runs `query` `runs` times and prints mean, p99 and max in milliseconds.
func time<T>(_ label: String, runs: Int, _ query: () async throws -> T) async rethrows {
    let clock = ContinuousClock()
    var times: [Double] = []
    for _ in 0..<runs {
        let start = clock.now
        _ = try await query()
        times.append((clock.now - start).seconds * 1000)
    }
    times.sort()
    let mean = times.reduce(0, +) / Double(max(1, times.count))
    let p99 = times[min(times.count - 1, Int(Double(times.count) * 0.99))]
    print(String(format: "%@: %d runs: mean %.3f ms, p99 %.3f ms, max %.3f ms", label, times.count, mean, p99, times.last ?? 0))
}

let arguments = CommandLine.arguments.dropFirst()
guard arguments.first == "inbox", arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: herald-bench inbox WORKSPACE USER [RUNS]\n".utf8))
    exit(2)
}
let values = Array(arguments)
let paths = WorkspacePaths(root: URL(fileURLWithPath: values[1]))
let user = values[2]
let runs = values.count > 3 ? Int(values[3]) ?? 200 : 200
let store = try SQLiteInboxStore(url: paths.database)
try await time("unread-count", runs: runs) { try await store.unreadCount(tenant: "0", user: user, now: Date()) }
try await time("list first page of 20", runs: runs) {
    try await store.list(tenant: "0", user: user, unreadOnly: false, page: 1, size: 20, now: Date())
}
