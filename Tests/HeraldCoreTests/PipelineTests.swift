import Foundation
import Testing
import HeraldCore

/// The stage chain, run in memory: MemoryTransport, MemoryLedger, MemoryEventLog, a fixed clock.
@Suite(.timeLimit(.minutes(1))) struct PipelineTests {
    static let order = Template(
        code: "order_shipped", name: "订单发货通知",
        declaredParameters: [ParameterDeclaration(name: "name"), ParameterDeclaration(name: "orderId")],
        base: VariantSet(
            site: SiteVariant(type: "notification", content: TemplateText("{name}，订单 {orderId} 已发货")),
            mail: MailVariant(account: "default", title: TemplateText("订单 {orderId} 已发货"), text: TemplateText("{name}")),
            sms: SMSVariant(channels: ["aliyun"], apiTemplateID: "SMS_1", content: TemplateText("订单{orderId}已发货"))))
    static let retired = Template(code: "retired", name: "old", status: .disabled,
                                  base: VariantSet(site: SiteVariant(type: "notification", content: TemplateText("x"))))
    static let configuration = Configuration(
        mailAccounts: ["default": MailAccount(id: "default", from: "noreply@shop.example.com")],
        smsChannels: ["aliyun": SMSChannel(id: "aliyun", signature: "云商城")])
    static let now = Date(timeIntervalSince1970: 1_795_000_000)

    struct Harness {
        let transport: MemoryTransport
        let ledger = MemoryLedger()
        let log = MemoryEventLog()
        let pipeline: Pipeline

        init(outcomes: [String: DeliveryOutcome] = [:], concurrency: Int = 4, delay: Bool = false) {
            // With `delay`, sends take different times, so concurrent completions come back out of order.
            if delay {
                transport = MemoryTransport(concurrency: concurrency, outcomes: outcomes, delay: Self.pause)
            } else {
                transport = MemoryTransport(concurrency: concurrency, outcomes: outcomes)
            }
            let catalog = TemplateCatalog([PipelineTests.order, PipelineTests.retired])
            let renderer = TemplateRenderer(configuration: PipelineTests.configuration)
            // The production shape: batch runners overlap the two parts.
            pipeline = Pipeline(
                preparation: [.load(from: catalog, ledger: ledger), .validate(using: renderer), .render(with: renderer), .rateLimit()],
                delivery: [.send(through: TransportSet.all(transport, configuration: PipelineTests.configuration)),
                           .record(to: ledger, log: log, masking: .full, clock: { PipelineTests.now })])
        }

        @Sendable static func pause(_ envelope: Envelope) -> Duration {
            .milliseconds((envelope.row * 7) % 11)
        }

        func run(_ rows: [RecipientRow], batch: String = "b1") async throws -> RunSummary {
            let runner = BatchRunner(pipeline: pipeline, catalog: TemplateCatalog([PipelineTests.order]), chunkSize: 3)
            return try await runner.run(rows: rows, batch: BatchContext(id: batch, file: "orders.csv"))
        }
    }

    static func row(_ number: Int, template: String? = "order_shipped", channels: [String]? = nil, email: String? = nil,
                    mobile: String? = nil, userID: String? = nil, parameters: [String: String] = ["name": "李雷", "orderId": "A1"]) -> RecipientRow {
        RecipientRow(row: number, line: number + 1, template: template, channels: channels,
                     recipient: Recipient(userID: userID, email: email, mobile: mobile), parameters: parameters)
    }

    @Test func eachRowEndsWithTheRightStatusAndStage() async throws {
        let harness = Harness(outcomes: ["+8613900139000": .transient(code: "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控"),
                                         "bounce@example.com": .permanent(code: "550", "5.1.1 no such user")])
        let summary = try await harness.run([
            Self.row(1, email: "li@example.com", mobile: "138 0013 8000"),
            Self.row(2, email: "li..lei@example.com"),
            Self.row(3, email: "a@example.com", parameters: ["name": "李雷"]),
            Self.row(4, template: "ordr_shipped", email: "a@example.com"),
            Self.row(5, template: "retired", userID: "9"),
            Self.row(6, channels: ["sms"], email: "a@example.com"),
            Self.row(7, mobile: "13900139000"),
            Self.row(8, email: "bounce@example.com"),
            Self.row(9, channels: ["fax"], email: "a@example.com"),
            Self.row(10),
        ])
        let lines = harness.log.events.map { event in
            [String(event.row ?? 0), event.channel?.rawValue ?? "-", event.status.rawValue, event.error?.stage.rawValue ?? "",
             event.error?.code.rawValue ?? "", event.error?.reason ?? ""].joined(separator: " | ")
        }
        #expect(lines == [
            "1 | mail | sent |  |  | ",
            "1 | sms | sent |  |  | ",
            "2 | mail | invalid | validate | invalid_email | email 'li..lei@example.com' is not a valid address: dots at the start, end or twice in a row before @",
            "3 | mail | invalid | validate | missing_parameter | missing required parameter 'orderId' for template 'order_shipped'; fill the orderId column or declare a default",
            "4 | - | invalid | load | unknown_template | no template 'ordr_shipped' in templates/; did you mean 'order_shipped'?",
            "5 | site | skipped | validate | template_disabled | template 'retired' is disabled",
            "6 | sms | skipped | validate | no_address | no mobile for the sms channel",
            "7 | sms | deferred | send | isv.BUSINESS_LIMIT_CONTROL | 触发分钟级流控",
            "8 | mail | failed | send | 550 | 5.1.1 no such user",
            "9 | - | invalid | load | unknown_channel | unknown channel 'fax'; use site, mail, sms, wechat_mp, wechat_mini, wecom, dingtalk, feishu",
            "10 | - | skipped | load | no_address | the row has no address for any channel of 'order_shipped'; fill one of user_id, email, mobile",
        ])
        #expect(harness.transport.sent.map(\.address).sorted() == ["+8613800138000", "+8613900139000", "bounce@example.com", "li@example.com"])
        #expect(summary.counts == [
            .channel(.mail): [.status(.sent): 1, .status(.invalid): 2, .status(.failed): 1],
            .channel(.sms): [.status(.sent): 1, .status(.skipped): 1, .status(.deferred): 1],
            .channel(.site): [.status(.skipped): 1],
            .row: [.status(.invalid): 2, .status(.skipped): 1],
        ])
        #expect(summary.hasFailures)
    }

    @Test func theLogLineCarriesEverythingAboutTheMessage() async throws {
        // The transport reports the latency, so the expected line is fixed, not read back from the event.
        var outcome = DeliveryOutcome.sent(providerID: "memory-1")
        outcome.latency = .microseconds(12_345)
        let harness = Harness(outcomes: ["li@example.com": outcome])
        _ = try await harness.run([Self.row(1, email: "li@example.com", parameters: ["name": "李雷", "orderId": "A1", "coupon": "X9"])])
        let event = try #require(harness.log.events.first)
        let id = BatchContext(id: "b1", file: "orders.csv").messageID(row: 1, channel: "mail")
        let fingerprint = MessageFingerprint.of(template: "order_shipped", channel: .mail, address: "li@example.com",
                                                parameters: ["name": "李雷", "orderId": "A1", "coupon": "X9"])
        #expect(event.messageID == id)
        #expect(event.jsonLine(timeZone: TimeZone(identifier: "Asia/Shanghai")!) == """
            {"ts":"2026-11-18T19:06:40.000+08:00","message_id":"\(id)","batch":"b1","file":"orders.csv","row":1,"line":2,"template":"order_shipped","category":"transactional","channel":"mail","account":"default","transport":"memory","recipient":"li@example.com","status":"sent","attempt":1,"fingerprint":"\(fingerprint)","latency_ms":12.345,"provider_id":"memory-1","extra":{"coupon":"X9"}}
            """)
        #expect(harness.ledger.all[id]?.status == .sent)
        #expect(harness.ledger.all[id]?.providerID == "memory-1")
    }

    @Test func aBatchRunAgainSendsNothingTheLedgerHoldsAsSent() async throws {
        let harness = Harness(outcomes: ["+8613900139000": .transient(code: "451", "try later")])
        let rows = [Self.row(1, email: "li@example.com"), Self.row(2, email: "bad@@x"), Self.row(3, mobile: "13900139000")]
        _ = try await harness.run(rows)
        let second = try await harness.run(rows)
        #expect(second.counts == [.channel(.mail): [.status(.duplicate): 1, .status(.invalid): 1], .channel(.sms): [.status(.duplicate): 1]])
        #expect(harness.transport.sent.count == 2)
        #expect(harness.log.events.filter { $0.kind == .message }.count == 4, "duplicates are not logged one by one; the invalid row is")
        let note = try #require(harness.log.events.last)
        #expect(note.kind == .batch && note.count == 2, "one batch line counts the two duplicates")
        #expect(note.error?.reason == "2 messages of 2 rows were already handed over by an earlier run of this batch; they were not sent again")
        let other = try await harness.run(rows, batch: "b2")
        #expect(other.counts[.channel(.mail)]?[.status(.sent)] == 1, "another batch id is another set of messages")
    }

    @Test func messageIDsAreStableAndOrderedWithinABatch() {
        let batch = BatchContext(id: "sha256:abc", file: "x.csv")
        let ids = (1...300).map { batch.messageID(row: $0, channel: "sms") }
        #expect(ids == ids.sorted())
        #expect(Set(ids).count == 300)
        #expect(batch.messageID(row: 7, channel: "mail") == MessageID(batch: "sha256:abc", row: 7, channel: "mail"))
        #expect(batch.messageID(row: 7, channel: "mail") != batch.messageID(row: 7, channel: "sms"))
        #expect(batch.messageID(row: 7, channel: "mail") != BatchContext(id: "sha256:abd", file: "x.csv").messageID(row: 7, channel: "mail"))
        #expect(batch.messageID(row: 7, channel: "mail").value.count == 32)
    }

    @Test func concurrentSendsKeepRowOrderInTheLog() async throws {
        let harness = Harness(concurrency: 8, delay: true)
        let rows = (1...40).map { Self.row($0, mobile: "1380013\(String(format: "%04d", $0))") }
        _ = try await harness.run(rows)
        #expect(harness.log.events.map(\.row) == (1...40).map { Optional($0) })
        #expect(Set(harness.transport.sent.map(\.row)) == Set(1...40))
    }

    @Test func aDryRunPipelineSendsAndRecordsNothing() async throws {
        let transport = MemoryTransport()
        let ledger = MemoryLedger(), log = MemoryEventLog()
        let catalog = TemplateCatalog([Self.order])
        let renderer = TemplateRenderer()
        let pipeline = Pipeline([.load(from: catalog, ledger: ledger), .validate(using: renderer), .render(with: renderer), .rateLimit()])
        let summary = try await BatchRunner(pipeline: pipeline, catalog: catalog)
            .run(rows: [Self.row(1, email: "li@example.com"), Self.row(2, email: "x")], batch: BatchContext(id: "b", file: "f"))
        #expect(summary.counts == [.channel(.mail): [.rendered: 1, .status(.invalid): 1]])
        #expect(transport.sent.isEmpty && log.events.isEmpty && ledger.all.isEmpty)

        // The same rows through the full chain with the same transport, ledger and log do send and
        // record: the emptiness above is the dry run's doing, not a harness that never connects.
        let full = Pipeline(pipeline.stages + [
            .send(through: TransportSet.all(transport, configuration: Self.configuration)),
            .record(to: ledger, log: log, masking: .full, clock: { Self.now }),
        ])
        _ = try await BatchRunner(pipeline: full, catalog: catalog)
            .run(rows: [Self.row(1, email: "li@example.com")], batch: BatchContext(id: "b", file: "f"))
        #expect(transport.sent.count == 1 && log.events.count == 1 && ledger.all.count == 1)
    }

    @Test func aHealthyTransportThatStartsFailingStopsAtTheBurstLimitNotAtTheEndOfAGroup() async throws {
        // Rows 1–5 go through; from row 6 the server answers 451. The whole chunk is one group
        // of a healthy transport, so only the per-message check can stop it.
        var outcomes: [String: DeliveryOutcome] = [:]
        for number in 6...200 { outcomes["u\(number)@example.com"] = .transient(code: "451", "4.3.0 Temporary failure") }
        let transport = MemoryTransport(concurrency: 1, outcomes: outcomes)
        let ledger = MemoryLedger(), log = MemoryEventLog()
        let catalog = TemplateCatalog([Self.order])
        let renderer = TemplateRenderer(configuration: Self.configuration)
        let control = SendControl(clock: ManualClock(start: Self.now), burstLimit: 3) { _, _ in nil }
        let pipeline = Pipeline(
            preparation: [.load(from: catalog, ledger: ledger), .validate(using: renderer), .render(with: renderer), .rateLimit()],
            delivery: [.send(through: TransportSet.all(transport, configuration: Self.configuration), control: control),
                       .record(to: ledger, log: log, masking: .full, clock: { Self.now })])
        let rows = (1...200).map { Self.row($0, email: "u\($0)@example.com") }
        let summary = try await BatchRunner(pipeline: pipeline, catalog: catalog, chunkSize: 512)
            .run(rows: rows, batch: BatchContext(id: "b", file: "f"))
        #expect(transport.sent.count == 5 + 3, "5 sent, then 3 failures in a row pause it; attempted: \(transport.sent.count)")
        #expect(summary.counts[.channel(.mail)]?[.status(.sent)] == 5 && summary.counts[.channel(.mail)]?[.status(.deferred)] == 195)
        #expect(log.events.filter { $0.error?.code == .transportPaused }.count == 192)
    }
}
