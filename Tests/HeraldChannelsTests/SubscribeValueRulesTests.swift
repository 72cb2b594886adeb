import Foundation
import Testing
import HeraldChannels
import HeraldCore
import HeraldTestSupport

/// The limits WeChat documents for subscribe-message values, Chinese counted in characters.
@Suite(.timeLimit(.minutes(1))) struct SubscribeValueRulesTests {
    func ok(_ key: String, _ value: String) -> Bool {
        if case .success = SubscribeValueRules.check(key: key, value: value, truncate: false) { return true }
        return false
    }

    @Test(arguments: [
        ("thing1", String(repeating: "券", count: 20), true), ("thing1", String(repeating: "券", count: 21), false),
        ("number2", "12345.67", true), ("number2", "12a", false), ("number2", String(repeating: "9", count: 33), false),
        ("letter3", "ABCdef", true), ("letter3", "AB1", false),
        ("symbol4", "#$%", true), ("symbol4", "######", false),
        ("character_string5", "A1001-X", true), ("character_string5", "订单A1", false), ("character_string5", String(repeating: "a", count: 33), false),
        ("time6", "15:01", true), ("time6", "2019年10月1日 15:01", true), ("time6", "15:01~16:00", true), ("time6", "下午三点", false),
        ("date7", "2019年10月1日", true), ("date7", "2019-10-01 15:01", true), ("date7", "2019年10月1日~2019年10月3日", true), ("date7", "明天", false),
        ("amount8", "¥20", true), ("amount8", "100.50元", true), ("amount8", "¥12345678901", false), ("amount8", "二十元", false),
        ("phone_number9", "+86-0766-66888866", true), ("phone_number9", "+86-0766-668888660000", false),
        ("car_number10", "粤A12345", true), ("car_number10", "粤A1234学", true), ("car_number10", "粤A中345", false),
        ("name11", "李雷", true), ("name11", String(repeating: "李", count: 11), false),
        ("name11", "Li Lei", true), ("name11", String(repeating: "L", count: 21), false),
        ("phrase12", "已发货", true), ("phrase12", "已经发货了吗", false), ("phrase12", "ok", false),
    ])
    func limits(key: String, value: String, valid: Bool) {
        #expect(ok(key, value) == valid)
    }

    @Test func overLongTextIsRejectedWithKeyAndLimitOrTruncated() {
        let long = String(repeating: "优", count: 25)
        #expect(SubscribeValueRules.check(key: "thing2", value: long, truncate: false)
                == .failure(StageFailure(.invalid, code: "wechat_value",
                    "subscribe data 'thing2' (thing) is '\(long)': 25 characters, at most 20 allowed (thing: at most 20 characters); shorten it or set `truncate: true`")))
        #expect(SubscribeValueRules.check(key: "thing2", value: long, truncate: true) == .success(String(repeating: "优", count: 19) + "…"))
    }
}

@Suite(.timeLimit(.minutes(1))) struct SubscribeLiteralCheckTests {
    @Test func aLiteralValueThatBreaksItsTypeIsAnError() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": TemporaryWorkspace.sampleConfiguration,
            "templates/mini.yaml": "wechat_mini:\n  app: mini\n  template_id: T\n  data: {phrase1: 这句话有点长了, thing2: \"{x}\"}\n",
        ])
        #expect(WorkspaceCheck.run(root: workspace.url, environment: [:], channels: .builtIn) == [
            .error("subscribe data 'phrase1' (phrase) is '这句话有点长了': 7 characters, at most 5 allowed (phrase: at most 5 Chinese characters); shorten it or set `truncate: true`",
                   at: SourceLocation(file: "templates/mini.yaml", line: 4, column: 9)),
        ])
        // Without the channel's rules nothing is checked: the rules live beside the channel.
        #expect(WorkspaceCheck.run(root: workspace.url, environment: [:]).isEmpty)
        #expect(throws: DiagnosticsError.self) { try Workspace.open(at: workspace.url, environment: [:], channels: .builtIn) }
    }

    @Test func theRenderStageAppliesTheRulesOfTheWorkspaceItRendersFor() async throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": TemporaryWorkspace.sampleConfiguration,
            "templates/cut.yaml": "wechat_mini:\n  app: mini\n  template_id: T\n  truncate: true\n  data: {thing1: \"{x}\"}\n",
            "templates/strict.yaml": "wechat_mini:\n  app: mini\n  template_id: T\n  data: {thing1: \"{x}\"}\n",
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:], channels: .builtIn)
        #expect(opened.contentRules.map(\.channel) == [.wechatMini, .wecom])
        let long = String(repeating: "优", count: 25)
        let transport = MemoryTransport()
        let ledger = MemoryLedger(), log = MemoryEventLog()
        let renderer = opened.renderer
        let pipeline = Pipeline([
            .load(from: opened.catalog, ledger: ledger), .validate(using: renderer),
            .render(with: renderer, contentRules: opened.contentRules),
            .send(through: TransportSet.all(transport, configuration: opened.configuration)),
            .record(to: ledger, log: log, masking: .full, clock: { Date() }),
        ])
        let rows = ["cut", "strict"].enumerated().map { index, code in
            RecipientRow(row: index + 1, template: code, recipient: Recipient(miniOpenID: "oMINI\(index)"), parameters: ["x": long])
        }
        let summary = try await BatchRunner(pipeline: pipeline, catalog: opened.catalog).run(rows: rows, batch: BatchContext(id: "b", file: "f"))
        guard case let .wechatMini(wechat)? = transport.sent.first?.message.content else { Issue.record("nothing sent"); return }
        #expect(transport.sent.count == 1 && wechat.data.first?.value == String(repeating: "优", count: 19) + "…")
        #expect(summary.counts[.channel(.wechatMini)]?[.status(.invalid)] == 1)
        #expect(log.events.contains { $0.row == 2 && $0.error?.code == .wechatValue })
    }
}
