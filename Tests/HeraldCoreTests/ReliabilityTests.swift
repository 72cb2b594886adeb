import Foundation
import Testing
@testable import HeraldCore
import HeraldPostgres
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct RetryAndQuietHoursTests {
    let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    @Test func backoffDoublesFromMinToMaxWithJitter() {
        let policy = RetryPolicy(minBackoff: .seconds(300), maxBackoff: .seconds(3600))
        #expect(policy.backoff(afterAttempt: 1, jitter: 0.5) == .seconds(300))
        #expect(policy.backoff(afterAttempt: 2, jitter: 0.5) == .seconds(600))
        #expect(policy.backoff(afterAttempt: 4, jitter: 0.5) == .seconds(2400))
        #expect(policy.backoff(afterAttempt: 9, jitter: 0.5) == .seconds(3600))
        #expect(policy.backoff(afterAttempt: 1, jitter: 0) == .seconds(240))
        #expect(policy.backoff(afterAttempt: 1, jitter: 1) == .seconds(360))
    }

    func date(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    @Test func quietHoursAcrossMidnightEndAtTheRightLocalTime() throws {
        let window = try #require(QuietHours.parse("21:00-08:00"))
        // 22:30 in Shanghai → 08:00 next morning; 03:00 → 08:00 the same morning; 12:00 → not quiet.
        #expect(window.end(of: date("2026-11-27T14:30:00Z"), timeZone: shanghai) == date("2026-11-28T00:00:00Z"))
        #expect(window.end(of: date("2026-11-27T19:00:00Z"), timeZone: shanghai) == date("2026-11-28T00:00:00Z"))
        #expect(window.end(of: date("2026-11-27T04:00:00Z"), timeZone: shanghai) == nil)
        #expect(window.end(of: date("2026-11-27T13:00:00Z"), timeZone: shanghai) == date("2026-11-28T00:00:00Z"), "21:00 exactly is quiet")
        #expect(window.end(of: date("2026-11-28T00:00:00Z"), timeZone: shanghai) == nil, "08:00 exactly is not")
        let lunch = try #require(QuietHours.parse("12:00-13:30"))
        #expect(lunch.end(of: date("2026-11-27T04:10:00Z"), timeZone: shanghai) == date("2026-11-27T05:30:00Z"))
        #expect(QuietHours.parse("25:00-08:00") == nil)
    }
}

@Suite(.timeLimit(.minutes(1))) struct RateLimiterTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    func limiter(caps: [RateLimit] = [RateLimit(count: 1, period: .seconds(60)), RateLimit(count: 3, period: .seconds(3600))],
                 quiet: [TemplateCategory: QuietHours] = [:], preferences: Preferences = Preferences(),
                 clock: ManualClock) -> RateLimiter {
        var configuration = Configuration()
        configuration.caps = [.sms: [nil: caps]]
        configuration.quietHours = quiet
        return RateLimiter(configuration: configuration, preferences: preferences, counters: MemoryRecipientCounters(), clock: clock)
    }

    func delivery(_ address: String = "+8613800138000", channel: Channel = .sms) -> Delivery {
        var delivery = Delivery(id: MessageID("x"), channel: channel, address: address)
        delivery.account = "aliyun"
        return delivery
    }

    @Test func capsDeferUntilTheWindowAllowsThenSend() throws {
        let clock = ManualClock(start: Self.start)
        let limiter = limiter(clock: clock)
        var history: [Date] = []
        func decide() -> RateLimiter.Decision {
            limiter.decide(delivery(), category: .transactional, userID: nil, now: clock.now(), history: history)
        }
        guard case .send(counted: true) = decide() else { Issue.record("first send should go"); return }
        history.append(clock.now())
        clock.advance(by: .seconds(10))
        guard case let .hold(until, failure) = decide() else { Issue.record("second within a minute should wait"); return }
        #expect(until == Self.start.addingTimeInterval(60))
        #expect(failure.status == .deferred && failure.code == "recipient_cap")
        #expect(failure.reason.hasPrefix("per-recipient cap 1/min reached for +86138****8000; deferred to "))
        clock.set(Self.start.addingTimeInterval(60))
        guard case .send = decide() else { Issue.record("after the minute it goes"); return }
        history += [Self.start.addingTimeInterval(60), Self.start.addingTimeInterval(120)]
        clock.set(Self.start.addingTimeInterval(200))
        guard case let .hold(hourly, _) = decide() else { Issue.record("the hourly cap holds"); return }
        #expect(hourly == Self.start.addingTimeInterval(3600))
    }

    @Test func aVerificationCodeThatWouldArriveTooLateIsSuppressed() {
        let clock = ManualClock(start: Self.start)
        let limiter = limiter(caps: [RateLimit(count: 1, period: .seconds(3600))], clock: clock)
        let decision = limiter.decide(delivery(), category: .verification, userID: nil, now: clock.now(), history: [Self.start])
        guard case let .hold(until, failure) = decision else { Issue.record("expected a hold"); return }
        #expect(until == nil)
        #expect(failure.status == .suppressed)
        #expect(failure.reason.contains("the verification code would arrive 3600s late"))
    }

    @Test func quietHoursDeferMarketingButNotVerification() {
        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_795_010_400)) // 2026-11-18 22:40 in Shanghai
        let limiter = limiter(caps: [], quiet: [.marketing: QuietHours(start: 21 * 60, end: 8 * 60)], clock: clock)
        guard case let .hold(until, failure) = limiter.decide(delivery(), category: .marketing, userID: nil, now: clock.now(), history: []) else {
            Issue.record("marketing at 22:40 waits"); return
        }
        #expect(failure.code == "quiet_hours")
        #expect(Timestamp.iso8601(until!, timeZone: TimeZone(identifier: "Asia/Shanghai")!) == "2026-11-19T08:00:00.000+08:00")
        guard case .send = limiter.decide(delivery(), category: .verification, userID: nil, now: clock.now(), history: []) else {
            Issue.record("verification is never held by quiet hours"); return
        }
    }

    @Test func preferencesAndSuppressionsByCategory() async throws {
        let workspace = try TemporaryWorkspace(files: [
            "recipients/preferences.csv": "user_id,address,channel,category,opt_out\n10001,,sms,marketing,true\n,li@example.com,*,*,yes\n,x@example.com,fax,,true\n",
            "recipients/suppressions.csv": "address,reason,since\nbounced@example.com,bounce,2026-11-01\n+86 139 0013 9000,退订,2026-11-02\n",
        ])
        let (preferences, problems) = Preferences.load(root: workspace.url)
        #expect(problems == [.warning("unknown channel 'fax'", at: SourceLocation(file: "recipients/preferences.csv", line: 4))])
        func reason(_ address: String, _ channel: Channel, _ category: TemplateCategory, user: String? = nil) async -> String? {
            preferences.reason(channel: channel, category: category, userID: user, address: address)
        }
        await #expect(reason("+8613800138000", .sms, .marketing, user: "10001") == "user 10001 opted out of marketing sms messages (recipients/preferences.csv)")
        await #expect(reason("+8613800138000", .sms, .transactional, user: "10001") == nil)
        await #expect(reason("+8613800138000", .sms, .verification, user: "10001") == nil)
        await #expect(reason("LI@example.com", .mail, .transactional) == "l***@example.com opted out of transactional mail messages (recipients/preferences.csv)")
        await #expect(reason("li@example.com", .mail, .system) == nil, "system messages ignore opt-outs")
        await #expect(reason("bounced@example.com", .mail, .verification) == "b***@example.com is on the suppression list (bounce)", "a bounce applies to every category")
        await #expect(reason("13900139000", .sms, .marketing) == "+86139****9000 is on the suppression list (退订)")
        await #expect(reason("13900139000", .sms, .verification) == nil, "退订 is an opt-out: verification still goes")
        try await preferences.suppress("new@example.com", channel: .mail, reason: "bounce", tenant: nil, since: Self.start)
        await #expect(reason("new@example.com", .mail, .transactional) != nil)
        #expect(try workspace.read("recipients/suppressions.csv").hasSuffix("new@example.com,bounce,2026-11-18T11:06:40.000Z,\n"))
    }

    @Test func theTokenBucketHoldsTheRateWithinFivePercent() async throws {
        let clock = ManualClock(start: Self.start)
        let control = SendControl(clock: clock, burstLimit: 0) { _, _ in RateLimit(count: 20, period: .seconds(1)) }
        var sent = 0
        while sent < 400 {
            sent += try await control.take(TransportKey(.sms, "aliyun"), upTo: 7)
        }
        let elapsed = clock.now().timeIntervalSince(Self.start)
        // 400 messages at 20/s: the first second's burst of 20, then 380 more over 19 s.
        #expect(abs(Double(sent) / max(elapsed, 0.001) - 20) / 20 < 0.05 || abs(elapsed - 19) < 0.95, "elapsed \(elapsed)")
        #expect(elapsed >= 18.9 && elapsed <= 19.1, "elapsed \(elapsed)")
    }
}

@Suite(.timeLimit(.minutes(1))) struct SpoolTests {
    func entry(_ id: String, category: TemplateCategory = .transactional, firstSeen: Date, next: Date) -> SpoolEntry {
        SpoolEntry(id: id, batch: "b", file: "f.csv", row: 1, line: 2, channel: .mail, account: "default", address: "li@example.com",
                   recipient: Recipient(email: "li@example.com"), mail: MailExtras(cc: ["c@example.com"]),
                   message: RenderedMessage(template: "t", category: category,
                                            content: .mail(RenderedMail(account: "default", nickname: "客服", subject: "主题", text: "正文"))),
                   attempts: 1, firstSeen: firstSeen, nextAttempt: next, lastErrorCode: "451", lastError: "busy")
    }

    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case file, memory, postgres
        static var allCases: [Kind] { PostgresTestDatabase.url == nil ? [.file, .memory] : [.file, .memory, .postgres] }
        var testDescription: String { rawValue }
    }

    /// The spool contract, held to the file spool and its in-memory twin alike.
    @Test(arguments: Kind.allCases)
    func putDueBuryReviveAndPurge(kind: Kind) async throws {
        let workspace = try TemporaryWorkspace()
        let spool: any Spool = switch kind {
        case .file: FileSpool(root: workspace.url)
        case .memory: MemorySpool()
        case .postgres: try PostgresSpool(pool: PostgresTestDatabase.pool(), worker: "w1", lease: .seconds(60))
        }
        let t0 = Date(timeIntervalSince1970: 1_795_000_000)
        try await spool.put(entry("m1", category: .marketing, firstSeen: t0, next: t0))
        try await spool.put(entry("m2", category: .verification, firstSeen: t0.addingTimeInterval(5), next: t0))
        try await spool.put(entry("m3", firstSeen: t0, next: t0.addingTimeInterval(600)))
        #expect(try await spool.due(at: t0.addingTimeInterval(1)).map(\.id) == ["m2", "m1"], "verification first, later entries wait")
        #expect(try await spool.entries().first { $0.id == "m1" } == entry("m1", category: .marketing, firstSeen: t0, next: t0), "round trip")
        if let files = spool as? FileSpool {
            #expect(try FileManager.default.contentsOfDirectory(atPath: files.folder.appendingPathComponent("tmp").path).isEmpty)
        }

        try await spool.bury(entry("m1", category: .marketing, firstSeen: t0, next: t0))
        #expect(try await spool.entries().map(\.id) == ["m2", "m3"])
        #expect(try await spool.entries(dead: true).map(\.id) == ["m1"])
        let revived = try await spool.revive(now: t0.addingTimeInterval(100))
        #expect(revived.map(\.id) == ["m1"] && revived[0].attempts == 0)
        #expect(try await spool.entries(dead: true).isEmpty)

        try await spool.bury(entry("m3", firstSeen: t0, next: t0))
        #expect(try await spool.purgeDead(diedBefore: t0.addingTimeInterval(-1)) == 0)
        #expect(try await spool.purgeDead(diedBefore: t0.addingTimeInterval(1)) == 1)
    }

    @Test func aCorruptSpoolFileIsReportedByName() async throws {
        let workspace = try TemporaryWorkspace(files: ["outbox/spool/bad.json": "{\"id\": "])
        await #expect(throws: SpoolCorruption.self) { try await FileSpool(root: workspace.url).entries() }
    }
}
