import Foundation
import Testing
import HeraldChannels
import HeraldCore
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct BounceTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)
    let a = "0123456789abcdef0123456789abcdef", b = "fedcba9876543210fedcba9876543210"

    func ledger(_ ids: [String]) async throws -> MemoryLedger {
        let ledger = MemoryLedger()
        try await ledger.record(ids.enumerated().map { index, id in
            LedgerEntry(id: MessageID(id), batch: "order", row: index + 1, channel: .mail, template: "order_shipped", status: .sent,
                        providerID: "<\(id)@shop.example.com>", updatedAt: now)
        })
        return ledger
    }

    @Test func readsPostfixBounceByItsVERPAddress() throws {
        let reports = try DeliveryReportParser().reports(in: Data(BounceFixtures.postfix(id: a).utf8))
        #expect(reports.count == 1)
        #expect(reports[0].kind == .hard && reports[0].status == "5.1.1")
        #expect(reports[0].verpID == a && reports[0].messageIDHeaderID == a)
        #expect(reports[0].recipient == "wang.fang@example.cn")
        #expect(reports[0].diagnostic == "550 5.1.1 <wang.fang@example.cn>: Recipient address rejected: User unknown in virtual mailbox table")
    }

    @Test func readsTheRFC3464Examples() throws {
        let simple = try DeliveryReportParser().reports(in: Data(BounceFixtures.rfc3464Simple(id: b).utf8))
        #expect(simple.map(\.kind) == [.soft], "failed with 4.0.0 is not a hard bounce")
        #expect(simple[0].verpID == nil && simple[0].herald == b, "matched by the returned Message-ID")
        #expect(simple[0].diagnostic == "426 connection timed out")

        let multi = try DeliveryReportParser().reports(in: Data(BounceFixtures.rfc3464MultiRecipient.utf8))
        #expect(multi.map(\.kind) == [.hard, .soft, .hard])
        #expect(multi.map(\.status) == ["5.0.0", "4.0.0", "5.0.0"])
        #expect(multi.map(\.recipient) == ["arathib@vnet.ibm.com", "johnh@hpnjld.njd.hp.com", "wsnell@sdcc13.ucsd.edu"])
        #expect(multi[0].diagnostic == "550 'arathib@vnet.IBM.COM' is not a registered gateway user", "folded field unfolded")
        #expect(multi.allSatisfy { $0.herald == nil })
    }

    @Test func readsTheRFC5965AbuseReport() throws {
        let reports = try DeliveryReportParser().reports(in: Data(BounceFixtures.arf(id: a).utf8))
        #expect(reports.map(\.kind) == [.complaint])
        #expect(reports[0].status == "abuse" && reports[0].recipient == "user@example.com" && reports[0].herald == a)
    }

    @Test func refusesWhatIsNoReport() throws {
        #expect(throws: BatchRejection.self) { try DeliveryReportParser().reports(in: Data(BounceFixtures.autoReply.utf8)) }
        #expect(throws: BatchRejection.self) { try DeliveryReportParser().reports(in: Data([0xFF, 0xFE, 0x00, 0x0A, 0x0A])) }
        #expect(throws: BatchRejection.self) { try DeliveryReportParser().reports(in: Data()) }
    }

    // Issue 26: a DSN sent to one genuine VERP address (which every recipient of the mail sees)
    // listing other addresses as Final-Recipient suppressed all of them, in every tenant.
    @Test func aReportTouchesOnlyTheRecipientOfTheMessageItNames() async throws {
        let forged = BounceFixtures.rfc3464MultiRecipient
            .replacingOccurrences(of: "To: <noreply@shop.example.com>", with: "To: <b+\(a)@bounces.shop.example.com>")
        let reports = try DeliveryReportParser().reports(in: Data(forged.utf8))
        #expect(reports.count == 3 && reports.allSatisfy { $0.herald == a })
        for known in [true, false] {
            let ledger = MemoryLedger(), log = MemoryEventLog(), preferences = Preferences()
            try await ledger.record([LedgerEntry(id: MessageID(a), batch: "order", row: 1, channel: .mail, template: "order_shipped", status: .sent,
                                                 updatedAt: now, tenant: known ? "1" : nil,
                                                 recipient: known ? LedgerEntry.recipientDigest(of: "ArathiB@vnet.ibm.com", channel: .mail) : nil)])
            let ingest = BounceIngest(ledger: ledger, log: log, preferences: preferences, clock: { now })
            let (summary, unmatched) = try await ingest.apply(reports, source: "forged.eml")
            for victim in ["wsnell@sdcc13.ucsd.edu", "johnh@hpnjld.njd.hp.com"] {
                #expect(preferences.reason(channel: .mail, category: .verification, userID: nil, address: victim, tenant: "1") == nil,
                        "\(victim) was not the message's recipient")
            }
            #expect(unmatched?.contains("which was not sent to that address") == true, "\(unmatched ?? "nil")")
            if known {
                #expect(summary.hard == 1 && ledger.all[MessageID(a)]?.status == .undelivered)
                #expect(preferences.reason(channel: .mail, category: .verification, userID: nil, address: "arathib@vnet.ibm.com", tenant: "1") != nil)
                #expect(preferences.reason(channel: .mail, category: .verification, userID: nil, address: "arathib@vnet.ibm.com", tenant: "0") == nil,
                        "a bounce of tenant 1's mail suppresses in tenant 1")
            } else {
                // A message from before the ledger kept recipients: three recipients for one
                // message cannot all be its own, and Herald cannot tell which is.
                #expect(summary.hard == 0 && ledger.all[MessageID(a)]?.status == .sent)
            }
        }
    }

    @Test func hardBounceMakesTheMessageUndeliveredAndSuppressesTheAddressOnce() async throws {
        let workspace = try TemporaryWorkspace()
        let ledger = try await ledger([a]), log = MemoryEventLog()
        let preferences = Preferences(suppressionsFile: WorkspacePaths(root: workspace.url).suppressions)
        let ingest = BounceIngest(ledger: ledger, log: log, preferences: preferences, clock: { now })
        let (summary, unmatched) = try await ingest.apply(try DeliveryReportParser().reports(in: Data(BounceFixtures.postfix(id: a).utf8)), source: "1.eml")
        #expect(summary.hard == 1 && unmatched == nil)
        let entry = try #require(ledger.all[MessageID(a)])
        #expect(entry.status == .undelivered && entry.errorCode == "5.1.1")
        #expect(entry.errorMessage?.contains("w***@example.cn") == true, "the diagnostic is masked like the log")
        #expect(entry.errorMessage?.contains("wang.fang") == false)
        #expect(log.events.map(\.status) == [.undelivered])
        #expect(log.events[0].extra["bounce"] == "hard" && log.events[0].file == "bounces")
        #expect(preferences.reason(channel: .mail, category: .verification, userID: nil, address: "Wang.Fang@example.cn")?
            .contains("suppression list (bounce)") == true, "a hard bounce blocks every category")
        #expect(try workspace.read("recipients/suppressions.csv").contains("wang.fang@example.cn,bounce,"))

        let again = try await ingest.apply(try DeliveryReportParser().reports(in: Data(BounceFixtures.postfix(id: a).utf8)), source: "2.eml")
        #expect(again.0.duplicates == 1 && again.0.hard == 0)
        #expect(log.events.count == 1)
    }

    @Test func complaintOptsTheAddressOutOfMarketingOnly() async throws {
        let workspace = try TemporaryWorkspace()
        let ledger = try await ledger([a]), log = MemoryEventLog(), preferences = Preferences(store: FileOptOutStore(root: workspace.url))
        let ingest = BounceIngest(ledger: ledger, log: log, preferences: preferences, clock: { now })
        let (summary, _) = try await ingest.apply(try DeliveryReportParser().reports(in: Data(BounceFixtures.arf(id: a).utf8)), source: "arf.eml")
        #expect(summary.complaints == 1)
        #expect(ledger.all[MessageID(a)]?.status == .sent, "a complaint is no bounce")
        #expect(preferences.reason(channel: .mail, category: .marketing, userID: nil, address: "user@example.com") != nil)
        #expect(preferences.reason(channel: .mail, category: .transactional, userID: nil, address: "user@example.com") == nil)
        #expect(try workspace.read("recipients/preferences.csv").contains(",user@example.com,mail,marketing,true"))
        #expect(log.events.first?.extra["bounce"] == "complaint")
    }

    @Test func reportsWithoutHeraldsIDAreMatchedByRecipientOrKeptAside() async throws {
        let ledger = try await ledger([a, b]), log = MemoryEventLog()
        let known = ["arathib@vnet.ibm.com": MessageID(a), "johnh@hpnjld.njd.hp.com": MessageID(b)]
        let ingest = BounceIngest(ledger: ledger, log: log, preferences: Preferences(), recipientLookup: { known[$0] }, clock: { now })
        let (summary, unmatched) = try await ingest.apply(try DeliveryReportParser().reports(in: Data(BounceFixtures.rfc3464MultiRecipient.utf8)), source: "multi.eml")
        #expect(summary.hard == 1 && summary.soft == 1)
        #expect(ledger.all[MessageID(a)]?.status == .undelivered && ledger.all[MessageID(b)]?.status == .sent)
        #expect(unmatched?.contains("w***@sdcc13.ucsd.edu") == true, "the third recipient names no message: \(unmatched ?? "")")
    }

    @Test func filesMboxesAndMaildirsAreReadMovedAndUnmatchedKeptAside() async throws {
        let workspace = try TemporaryWorkspace()
        let ledger = try await ledger([a, b]), log = MemoryEventLog()
        let ingest = BounceIngest(ledger: ledger, log: log, preferences: Preferences(), clock: { now })
        let files = BounceFiles(root: workspace.url, parser: DeliveryReportParser())
        // An mbox of two bounces and an auto-reply; a body line ">From " is unquoted, not a new message.
        let mbox = ["From MAILER-DAEMON Tue Dec  1 10:03:12 2026\n" + BounceFixtures.postfix(id: a).replacingOccurrences(of: "\r\n", with: "\n")
                        .replacingOccurrences(of: "This is the mail system", with: ">From the mail system"),
                    "From MAILER-DAEMON Tue Dec  1 10:04:00 2026\n" + BounceFixtures.rfc3464Simple(id: b),
                    "From wang.fang@example.cn Tue Dec  1 10:05:00 2026\n" + BounceFixtures.autoReply].joined(separator: "\n")
        try workspace.write("recipients/inbox/bounces/2026-12-01.mbox", mbox)
        try workspace.write("recipients/inbox/bounces/bounces/new/1764554592.M1P2.mx", BounceFixtures.arf(id: b))
        try workspace.write("recipients/inbox/bounces/bounces/cur/1764554500.M1P1.mx:2,S", BounceFixtures.postfix(id: a))
        try workspace.write("recipients/inbox/bounces/bounces/tmp/1764554600.M1P3.mx", "half a message")

        let waiting = BounceFiles.waiting(root: workspace.url, settle: .zero, now: Date().addingTimeInterval(10))
        #expect(waiting.map(\.lastPathComponent) == ["2026-12-01.mbox", "bounces"])
        var total = BounceSummary()
        for url in waiting { total.merge(try await files.ingest(url, with: ingest, move: true)) }
        #expect(total.hard == 1 && total.duplicates == 1 && total.soft == 1 && total.complaints == 1 && total.unmatched == 1)
        #expect(total.unmatchedReasons.first?.contains("2026-12-01.mbox#3") == true)
        #expect(workspace.exists("recipients/processed/bounces/2026-12-01.mbox"))
        #expect(workspace.exists("recipients/processed/bounces/bounces/1764554592.M1P2.mx"))
        #expect(workspace.exists("recipients/inbox/bounces/bounces/tmp/1764554600.M1P3.mx"), "tmp/ is being delivered: left alone")
        #expect(BounceFiles.waiting(root: workspace.url, settle: .zero, now: Date().addingTimeInterval(10)).isEmpty)
        let kept = try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("recipients/unmatched-bounces").path).sorted()
        #expect(kept.count == 2 && kept.contains { $0.hasSuffix(".eml") } && kept.contains { $0.hasSuffix(".txt") })
        #expect(log.events.map { $0.extra["source"] ?? "" }.contains("2026-12-01.mbox#1"))
    }

    @Test func hostileFilesAreRefusedOrKeptAsideNeverLost() async throws {
        let workspace = try TemporaryWorkspace()
        let ingest = BounceIngest(ledger: MemoryLedger(), log: MemoryEventLog(), preferences: Preferences(), clock: { now })
        let files = BounceFiles(root: workspace.url, parser: DeliveryReportParser())
        // A sparse file past the limit is refused before it is read.
        let huge = workspace.url.appendingPathComponent("huge.mbox")
        FileManager.default.createFile(atPath: huge.path, contents: Data("From x\n".utf8))
        let handle = try FileHandle(forWritingTo: huge)
        try handle.truncate(atOffset: UInt64(BounceFiles.largestFile + 1))
        try handle.close()
        await #expect(throws: BatchRejection.self) { try await files.ingest(huge, with: ingest, move: true) }
        #expect(FileManager.default.fileExists(atPath: huge.path), "a refused file stays where it is")
        // A folder that is not a Maildir.
        try workspace.write("plain/readme.txt", "x")
        await #expect(throws: BatchRejection.self) { try await files.ingest(workspace.url.appendingPathComponent("plain"), with: ingest, move: true) }
        // Binary garbage and a name with path tricks inside a Maildir: kept aside under a safe name.
        try workspace.write("md/new/x..%2F..%2Fetc%2Fpasswd", Data([0x00, 0xFF, 0xFE, 0x0A, 0x0D, 0x0A, 0x80]))
        let summary = try await files.ingest(workspace.url.appendingPathComponent("md"), with: ingest, move: true)
        #expect(summary.unmatched == 1)
        let kept = try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("recipients/unmatched-bounces").path)
        #expect(kept.count == 2 && kept.allSatisfy { !$0.contains("/") && $0.contains("etc_2Fpasswd") }, "\(kept)")
    }

    @Test func aReportNamingAMessageOfAnotherChannelIsKeptAside() async throws {
        let ledger = MemoryLedger(), log = MemoryEventLog()
        try await ledger.record([LedgerEntry(id: MessageID(a), batch: "b", row: 1, channel: .sms, template: "t", status: .sent, updatedAt: now)])
        let ingest = BounceIngest(ledger: ledger, log: log, preferences: Preferences(), clock: { now })
        let (summary, unmatched) = try await ingest.apply(try DeliveryReportParser().reports(in: Data(BounceFixtures.postfix(id: a).utf8)), source: "x.eml")
        #expect(summary.hard == 0 && unmatched?.contains("not a mail message") == true)
        #expect(ledger.all[MessageID(a)]?.status == .sent)
    }
}

/// The run's bounce intake reads through the parser its context was given, and never loses a file without one.
@Suite(.timeLimit(.minutes(1))) struct BounceIntakeTests {
    func context(parser: (any BounceParser)?) throws -> (RunContext, TemporaryWorkspace, MemoryLedger) {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": TemporaryWorkspace.sampleConfiguration,
            "templates/welcome.yaml": "mail: {account: default, title: 欢迎, text: 你好}\n",
            "recipients/inbox/bounces/postfix.eml": BounceFixtures.postfix(id: "0123456789abcdef0123456789abcdef"),
        ])
        let opened = try Workspace.open(at: workspace.url, environment: [:])
        let ledger = MemoryLedger()
        let run = RunContext(workspace: opened, transports: TransportSet.all(MemoryTransport(), configuration: opened.configuration),
                             ledger: ledger, log: MemoryEventLog(), clock: ManualClock(start: Date().addingTimeInterval(60)),
                             bounceParser: parser)
        return (run, workspace, ledger)
    }

    @Test func withoutAParserBounceFilesWaitAndTheRunSaysSo() async throws {
        let (run, workspace, _) = try context(parser: nil)
        var summary = RunSummary()
        try await Intake(run).bounces(into: &summary)
        #expect(summary.notes == ["1 bounce file(s) wait in recipients/inbox/bounces/: this run reads no bounce mail (no bounce parser)"])
        #expect(FileManager.default.fileExists(atPath: workspace.url.appendingPathComponent("recipients/inbox/bounces/postfix.eml").path))
    }

    @Test func withTheParserTheFileIsReadAndMoved() async throws {
        let (run, workspace, _) = try context(parser: DeliveryReportParser())
        var summary = RunSummary()
        try await Intake(run).bounces(into: &summary)
        #expect(summary.bounces.unmatched == 1, "no ledger row names the message: kept aside, not lost")
        #expect(!FileManager.default.fileExists(atPath: workspace.url.appendingPathComponent("recipients/inbox/bounces/postfix.eml").path))
    }
}
