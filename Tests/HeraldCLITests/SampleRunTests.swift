import Foundation
import Testing
import HeraldTestSupport

/// The shipped samples (herald.yaml, templates/, recipients/samples/) run end to end in a copy
/// of the repository's workspace, as `.ci/main` runs them.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct SampleRunTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func theSampleBatchesFillTheInboxWithChineseText() throws {
        let workspace = try TemporaryWorkspace()
        let files = FileManager.default
        try files.copyItem(at: Self.repository.appendingPathComponent("herald.yaml"), to: workspace.url.appendingPathComponent("herald.yaml"))
        try files.copyItem(at: Self.repository.appendingPathComponent("templates"), to: workspace.url.appendingPathComponent("templates"))
        try files.createDirectory(at: workspace.url.appendingPathComponent("recipients/inbox"), withIntermediateDirectories: true)
        for name in try files.contentsOfDirectory(atPath: Self.repository.appendingPathComponent("recipients/samples").path) {
            try files.copyItem(at: Self.repository.appendingPathComponent("recipients/samples/\(name)"),
                               to: workspace.url.appendingPathComponent("recipients/inbox/\(name)"))
        }
        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let list = try runHerald(["inbox", "list", "--user", "1"], in: workspace.url)
        #expect(list.stdout.contains("商城助手  李雷，您的订单 A1001 已发货。"), "\(list.stdout)")
        #expect(list.stdout.contains("优惠中心  您的满100减20券（¥20）将于 2026年12月31日 过期，请尽快使用。"), "\(list.stdout)")
        #expect(list.stdout.hasSuffix("page 1 of 1, 2 in all\n"))
        let again = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(again.stdout.contains("no batches"), "nothing left in the inbox")
    }
}
