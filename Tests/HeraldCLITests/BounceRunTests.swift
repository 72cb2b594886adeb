import Foundation
import Testing
import HeraldTestSupport

/// Bounces and complaints end to end: mail sent with a VERP return path, the bounce dropped in
/// recipients/inbox/bounces/ or given to `herald bounces ingest`, then the ledger, the log, the
/// suppression list, the next send and the report.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct BounceRunTests {
    func workspace() throws -> TemporaryWorkspace {
        try TemporaryWorkspace(files: [
            "herald.yaml": """
                timezone: Asia/Shanghai
                mail:
                  accounts:
                    default: {transport: file, from: noreply@shop.example.com, bounce_domain: bounces.shop.example.com}

                """,
            "templates/order_shipped.yaml": "category: transactional\nmail: {account: default, title: \"订单 {orderId} 已发货\", text: \"{name}：订单 {orderId} 已发货\"}\n",
            "templates/coupon.yaml": "category: marketing\nmail: {account: default, title: \"优惠券\", text: \"{name}：您有一张优惠券\"}\n",
            "recipients/inbox/order_shipped.csv": "email,name,orderId\nwang.fang@example.cn,王芳,A1\nli.lei@example.com,李雷,A2\nhan@example.com,韩梅梅,A3\n",
        ])
    }

    func messageID(of address: String, in workspace: TemporaryWorkspace) throws -> String {
        let eml = try FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("outbox/sent/mail/order_shipped").path)
        for name in eml {
            let text = try workspace.read("outbox/sent/mail/order_shipped/\(name)")
            if text.contains("To: \(address)") || text.contains("<\(address)>") { return String(name.dropLast(4)) }
        }
        throw CocoaError(.fileNoSuchFile)
    }

    @Test func aDroppedBounceMakesTheMailUndeliveredSuppressesTheAddressAndShowsInTheReport() throws {
        let workspace = try workspace()
        let sent = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(sent.status == 0, "\(sent.stdout)\(sent.stderr)")
        let wang = try messageID(of: "wang.fang@example.cn", in: workspace)
        let li = try messageID(of: "li.lei@example.com", in: workspace)
        #expect(try workspace.read("outbox/sent/mail/order_shipped/\(wang).eml").hasPrefix("Return-Path: <b+\(wang)@bounces.shop.example.com>"))

        // A hard bounce by VERP, a complaint (ARF), and an out-of-office reply that is no report.
        try workspace.write("recipients/inbox/bounces/postfix.eml", BounceFixtures.postfix(id: wang))
        try workspace.write("recipients/inbox/bounces/complaints/new/1.mx", BounceFixtures.arf(id: li, recipient: "li.lei@example.com"))
        try workspace.write("recipients/inbox/bounces/ooo.eml", BounceFixtures.autoReply)
        let ingested = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(ingested.status == 0, "\(ingested.stdout)\(ingested.stderr)")
        #expect(ingested.stdout.contains("bounces/postfix.eml: 1 hard, 0 soft, 0 complaint, 0 delivered, 0 duplicate, 0 unmatched"), "\(ingested.stdout)")
        #expect(ingested.stdout.contains("bounces/complaints: 0 hard, 0 soft, 1 complaint"))
        #expect(ingested.stdout.contains("1 bounce message(s) kept in recipients/unmatched-bounces/: ooo.eml: not a delivery status notification"))
        #expect(workspace.exists("recipients/processed/bounces/postfix.eml") && workspace.exists("recipients/processed/bounces/complaints/1.mx"))

        let lines = try workspace.logEvents().filter { $0["file"] as? String == "bounces" }
        #expect(lines.map { $0["status"] as? String } == ["undelivered", "sent"])
        let error = try #require(lines[0]["error"] as? [String: Any])
        #expect(error["code"] as? String == "5.1.1")
        #expect((error["message"] as? String)?.contains("<w***@example.cn>: Recipient address rejected") == true, "\(error)")
        #expect(try workspace.read("recipients/suppressions.csv").contains("wang.fang@example.cn,bounce,"))
        #expect(try workspace.read("recipients/preferences.csv").contains(",li.lei@example.com,mail,marketing,true"))

        // The bounced address is suppressed from now on; the complaint only stops marketing mail.
        try workspace.write("recipients/inbox/order_shipped.2.csv", "email,name,orderId\nwang.fang@example.cn,王芳,A4\nli.lei@example.com,李雷,A5\n")
        try workspace.write("recipients/inbox/coupon.csv", "email,name\nli.lei@example.com,李雷\nhan@example.com,韩梅梅\n")
        let next = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(next.stdout.contains("mail        2           2      4"), "\(next.stdout)")

        let report = try runHerald(["report"], in: workspace.url)
        #expect(report.stdout.contains("delivery rate -"), "bounced mail is no receipt: \(report.stdout)")
        #expect(report.stdout.contains("mail delivery rate 80.00% (bounces came back for 1 messages)"), "\(report.stdout)")
        #expect(try workspace.read("reports/\(try todayReportFolder(workspace))/summary.csv").contains("mail_delivery_rate,0.8"))
    }

    func todayReportFolder(_ workspace: TemporaryWorkspace) throws -> String {
        try #require(FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("reports").path)
            .first { FileManager.default.fileExists(atPath: workspace.url.appendingPathComponent("reports/\($0)/summary.csv").path) })
    }

    @Test func bouncesIngestReadsAnMboxAndSaysWhatItKeptAside() throws {
        let workspace = try workspace()
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        let han = try messageID(of: "han@example.com", in: workspace)
        let mbox = "From MAILER-DAEMON Tue Dec  1 10:03:12 2026\n" + BounceFixtures.rfc3464Simple(id: han, recipient: "han@example.com")
            + "\nFrom MAILER-DAEMON Tue Dec  1 10:04:00 2026\n" + BounceFixtures.postfix(id: "0123456789abcdef0123456789abcdef")
        try workspace.write("bounces.mbox", mbox)
        let result = try runHerald(["bounces", "ingest", "bounces.mbox"], in: workspace.url)
        #expect(result.status == 1, "a message kept aside makes the exit code 1")
        #expect(result.stdout.contains("0 hard, 1 soft, 0 complaint, 0 delivered, 0 duplicate, 1 unmatched"), "\(result.stdout)")
        #expect(result.stdout.contains("kept aside: bounces.mbox#2: message 0123456789abcdef0123456789abcdef is not a mail message in the ledger"))
        #expect(workspace.exists("bounces.mbox"), "a path given on the command line is not moved")

        let missing = try runHerald(["bounces", "ingest", "nowhere.eml"], in: workspace.url)
        #expect(missing.status == 2 && missing.stderr.contains("nowhere.eml: no such file or folder"))
    }

    // Issue 26: a symbolic link in a Maildir was read (a link to /etc/passwd was copied into
    // unmatched-bounces/), a FIFO hung the run, and a sub-folder in new/ rejected the whole
    // Maildir with a raw "NSCocoaErrorDomain error 256". A rejected bounce's explanation was
    // printed as recipients/rejected/bounces/NAME.error.txt, where nothing is written.
    @Test func aMaildirReadsOnlyItsMessageFilesAndSaysWhatItLeft() throws {
        let workspace = try workspace()
        _ = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        let wang = try messageID(of: "wang.fang@example.cn", in: workspace)
        let box = workspace.url.appendingPathComponent("recipients/inbox/bounces/box")
        try workspace.write("recipients/inbox/bounces/box/new/1.eml", BounceFixtures.postfix(id: wang))
        try workspace.write("recipients/inbox/bounces/box/new/sub/2.eml", BounceFixtures.postfix(id: wang))
        try FileManager.default.createSymbolicLink(atPath: box.appendingPathComponent("new/evil").path, withDestinationPath: "/etc/passwd")
        #expect(mkfifo(box.appendingPathComponent("new/pipe").path, 0o644) == 0)
        // A Maildir that is itself a link to a folder elsewhere is refused, and rejected/ has its name taken.
        let elsewhere = try TemporaryWorkspace(files: ["new/1.eml": BounceFixtures.postfix(id: wang)])
        try FileManager.default.createSymbolicLink(atPath: workspace.url.appendingPathComponent("recipients/inbox/bounces/linked").path,
                                                   withDestinationPath: elsewhere.url.path)
        try workspace.write("recipients/rejected/linked", "an earlier file of that name\n")

        let run = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(run.stdout.contains("1 hard"), "\(run.stdout)\(run.stderr)")
        for note in ["new/evil is a symbolic link", "new/pipe is a FIFO (named pipe)", "new/sub is a folder"] {
            #expect(run.stdout.contains(note), "\(note): \(run.stdout)")
        }
        let kept = (try? FileManager.default.contentsOfDirectory(atPath: workspace.url.appendingPathComponent("recipients/unmatched-bounces").path)) ?? []
        #expect(try kept.allSatisfy { try !workspace.read("recipients/unmatched-bounces/\($0)").contains("root:x:0:0") }, "nothing of /etc/passwd")
        #expect(FileManager.default.fileExists(atPath: box.appendingPathComponent("new/sub/2.eml").path), "left where it is")
        #expect(!run.stdout.contains("NSCocoaErrorDomain"))
        #expect(run.stdout.contains("bounces/linked: rejected → recipients/rejected/linked.1.error.txt: "), "\(run.stdout)")
        #expect(try workspace.read("recipients/rejected/linked.1.error.txt").contains("symbolic link"))
    }
}
