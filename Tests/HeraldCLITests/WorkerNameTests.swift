import Foundation
import HeraldTestSupport
import Testing

/// One process per worker name on a shared store: a second `herald watch` or `herald run` under
/// a name in use is refused, and `herald check` says who holds it, at its line in herald.yaml.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(2)), .enabled(if: PostgresTestDatabase.url != nil))
struct WorkerNameTests {
    @Test func aSecondProcessUnderANameInUseIsRefused() throws {
        let schema = try PostgresTestDatabase.freshSchema()
        let configuration = """
            inbox: {settle: 0s}
            watch: {interval: 200ms}
            store: {url: "${TEST_DATABASE_URL}", schema: \(schema), pool: 2}
            worker:
              lease: 30s
              name: w1
            sms:
              channels:
                aliyun: {transport: file, signature: 云商城}

            """
        let files = ["herald.yaml": configuration,
                     "templates/code.yaml": "sms: {channel: aliyun, api_template_id: SMS_1, content: \"验证码{code}\"}\n"]
        let first = try TemporaryWorkspace(files: files), second = try TemporaryWorkspace(files: files)
        let environment = ["TEST_DATABASE_URL": PostgresTestDatabase.url ?? ""]
        #expect(try runHerald(["check"], in: first.url, environment: environment).status == 0, "the name is free")

        let watch = try startHerald(["watch"], in: first.url, environment: environment)
        defer { if watch.isRunning { watch.terminate() } }
        var check = try runHerald(["check"], in: second.url, environment: environment)
        for _ in 0..<100 where check.status == 0 {
            Thread.sleep(forTimeInterval: 0.1)
            check = try runHerald(["check"], in: second.url, environment: environment)
        }
        #expect(check.status == 2)
        #expect(check.stdout.contains("herald.yaml:6:3: error: worker.name 'w1' is in use by a running herald (pid \(watch.processIdentifier) on "),
                "\(check.stdout)")

        let run = try runHerald(["run"], in: second.url, environment: environment)
        #expect(run.status == 2)
        #expect(run.stderr.contains("worker.name 'w1' is in use by a running herald (pid \(watch.processIdentifier)"), "\(run.stderr)")

        #expect(watch.terminates(within: .seconds(30)), "SIGTERM ends the watch")
        #expect(watch.terminationStatus == 0)
        #expect(try runHerald(["run"], in: second.url, environment: environment).status == 0, "free again once the watcher stopped")
        #expect(try runHerald(["check"], in: second.url, environment: environment).status == 0)
    }
}
