import Foundation
import Testing
import HeraldTestSupport

/// `herald run` and `herald send` end to end: the built binary on a workspace in a temporary folder.
@Suite(.tags(.endToEnd), .timeLimit(.minutes(3))) struct RunCommandTests {
    static let template = """
        name: 订单发货通知
        params:
          name: {required: true}
          orderId: {required: true}
          note: {required: false}
        mail:
          account: default
          nickname: 云商城客服
          title: "【云商城】{name}，您的订单 {orderId} 已发货"
          text: "{name}：订单 {orderId} 已发货。{note}"
          html: "<p>{name}：订单 <b>{orderId}</b> 已发货。{note}</p>"
        sms: {channel: aliyun, api_template_id: SMS_1, content: "订单{orderId}已发货"}

        """

    func workspace(_ files: [String: String] = [:]) throws -> TemporaryWorkspace {
        var all = ["herald.yaml": TemporaryWorkspace.sampleConfiguration + "log: {recipients: full}\n",
                   "templates/order_shipped.yaml": Self.template]
        all.merge(files) { _, new in new }
        return try TemporaryWorkspace(files: all)
    }

    static let batch = """
        email,name,orderId,note
        li.lei@example.com,李雷,A1001,
        li..lei@example.com,韩梅梅,A1002,
        wang@example.com,王小明,,
        "smith@example.com","Smith, John",A1004,"Leave it at the door, please.
        Second line of the note."
        zhao@example.com,赵"铁"柱,A1005,

        """

    @Test func aBatchRunsEndToEndAndDroppingItAgainSendsNothingTwice() throws {
        let workspace = try workspace(["recipients/inbox/order_shipped.today.csv": Self.batch])
        let first = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(first.stdout == """
            order_shipped.today.csv: done → recipients/processed/

            channel  sent  invalid  total
            mail        3        2      5
            total       3        2      5

            """)
        #expect(first.status == 1, "invalid rows make the exit code 1")
        #expect(workspace.exists("recipients/processed/order_shipped.today.csv"))
        #expect(!workspace.exists("recipients/inbox/order_shipped.today.csv"))

        let lines = try workspace.logEvents()
        #expect(lines.map { "\($0["row"] ?? "") \($0["line"] ?? "") \($0["status"] ?? "")" }
                == ["1 2 sent", "2 3 invalid", "3 4 invalid", "4 5 sent", "5 7 sent"])
        let invalid = try #require(lines[2]["error"] as? [String: Any])
        #expect(invalid["stage"] as? String == "validate")
        #expect(invalid["message"] as? String == "missing required parameter 'orderId' for template 'order_shipped'; fill the orderId column or declare a default")
        #expect((lines[1]["error"] as? [String: Any])?["code"] as? String == "invalid_email")

        let smith = try #require(lines[3]["provider_id"] as? String)
        let parsed = try parseWithPython(Data(contentsOf: workspace.url.appendingPathComponent(smith)))
        #expect(parsed.subject == "【云商城】Smith, John，您的订单 A1004 已发货")
        #expect(parsed.fromName == "云商城客服")
        #expect(parsed.text?.replacingOccurrences(of: "\r\n", with: "\n")
                == "Smith, John：订单 A1004 已发货。Leave it at the door, please.\nSecond line of the note.")
        let zhao = try #require(lines[4]["provider_id"] as? String)
        #expect(try parseWithPython(Data(contentsOf: workspace.url.appendingPathComponent(zhao))).subject
                == "【云商城】赵\"铁\"柱，您的订单 A1005 已发货")

        try workspace.write("recipients/inbox/again.csv", Self.batch.replacingOccurrences(of: "email,", with: "template,email,")
            .split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .map { $0.offset == 0 || $0.element.isEmpty || $0.element.hasPrefix("Second") ? String($0.element) : "order_shipped," + $0.element }
            .joined(separator: "\n"))
        try workspace.write("recipients/inbox/order_shipped.today.csv", Self.batch)
        let second = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(second.stdout == """
            again.csv: done → recipients/processed/
            order_shipped.today.csv: done → recipients/processed/

            channel  sent  invalid  duplicate  total
            mail        3        4          3     10
            total       3        4          3     10

            """, "the same bytes are the same batch: every sent row is a duplicate; another file is another batch")
        #expect(workspace.exists("recipients/processed/order_shipped.today.1.csv"))
    }

    @Test func unreadableFilesAreRejectedAndTheRunGoesOn() throws {
        let workspace = try workspace([
            "recipients/inbox/a_gbk.csv": "",
            "recipients/inbox/b_broken.json": "{\"template\": \"order_shipped\", \"recipients\": [",
            "recipients/inbox/c_mystery.csv": "email,name\nli@example.com,李雷\n",
            "recipients/inbox/order_shipped.good.csv": "email,name,orderId\nli@example.com,李雷,A1\n",
        ])
        try workspace.write("recipients/inbox/a_gbk.csv", Data(Array("template,email,name,orderId\norder_shipped,li@example.com,".utf8) + [0xC0, 0xEE, 0xC0, 0xD7] + Array(",A1\n".utf8)))
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.stdout == """
            order_shipped.good.csv: done → recipients/processed/
            a_gbk.csv: rejected → recipients/rejected/a_gbk.csv.error.txt: line 2: not valid UTF-8 text (is it saved as GBK or Excel's ANSI encoding?); save the file as UTF-8 and drop it again
            b_broken.json: rejected → recipients/rejected/b_broken.json.error.txt: line 1: not valid JSON: the file ends where a value is expected (column 46)
            c_mystery.csv: rejected → recipients/rejected/c_mystery.csv.error.txt: line 1: no template named: add a 'template' column, or name the file CODE.anything.csv after a template in templates/ (there is no template 'c_mystery')

            channel  sent  total
            mail        1      1
            total       1      1

            """)
        #expect(result.status == 1)
        for name in ["a_gbk.csv", "b_broken.json", "c_mystery.csv"] {
            #expect(workspace.exists("recipients/rejected/\(name)"))
            #expect(try workspace.read("recipients/rejected/\(name).error.txt").contains("Nothing in this file was sent."))
        }
        #expect(try workspace.logEvents().count == 1, "nothing of a rejected file reaches the log")
    }

    @Test func verificationBatchesGoBeforeMarketingOnes() throws {
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": "site: {transport: file}\n",
            "templates/a_promo.yaml": "category: marketing\nsite: {content: \"促销\"}\n",
            "templates/z_code.yaml": "category: verification\nsite: {content: \"验证码\"}\n",
            "recipients/inbox/a_promo.csv": "user_id\n1\n2\n",
            "recipients/inbox/z_code.csv": "user_id\n3\n",
        ])
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(result.stdout.hasPrefix("z_code.csv: done → recipients/processed/\na_promo.csv: done"), "\(result.stdout)")
        #expect(try workspace.logEvents().map { $0["template"] as? String } == ["z_code", "a_promo", "a_promo"])
    }

    @Test func filesStillBeingWrittenAreLeftAlone() throws {
        let workspace = try workspace([
            "recipients/inbox/order_shipped.part.csv.tmp": "email,name,orderId\n",
            "recipients/inbox/order_shipped.fresh.csv": "email,name,orderId\nli@example.com,李雷,A1\n",
        ])
        let result = try runHerald(["run"], in: workspace.url)
        #expect(result.stdout == "order_shipped.fresh.csv: still being written; left for the next run\n")
        #expect(result.status == 0)
        #expect(workspace.exists("recipients/inbox/order_shipped.fresh.csv"))
        #expect(workspace.exists("recipients/inbox/order_shipped.part.csv.tmp"))
    }

    // Issue 26: a file whose mtime is in the future waited "still being written" until the
    // clock passed it (2099: never); a symbolic link in the drop folder was skipped without a word.
    @Test func aFileFromTheFutureSettlesAndALinkIsNamed() throws {
        let workspace = try workspace([
            "recipients/inbox/order_shipped.future.csv": "email,name,orderId\nli@example.com,李雷,A1\n",
        ])
        let file = workspace.url.appendingPathComponent("recipients/inbox/order_shipped.future.csv")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 4_070_908_800)], ofItemAtPath: file.path)  // 2099
        try FileManager.default.createSymbolicLink(atPath: workspace.url.appendingPathComponent("recipients/inbox/order_shipped.link.csv").path,
                                                   withDestinationPath: "/etc/passwd")
        // It changed a moment ago (its status-change time says when), so a long settle still waits…
        let fresh = try runHerald(["run", "--settle", "60s"], in: workspace.url)
        #expect(fresh.stdout.contains("order_shipped.future.csv: still being written"), "\(fresh.stdout)")
        #expect(fresh.stdout.contains("order_shipped.link.csv: a symbolic link, not taken"), "\(fresh.stdout)")
        // …and a run that needs no settling takes it: its 2099 mtime no longer holds it back.
        let settled = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(settled.stdout.contains("order_shipped.future.csv: done → recipients/processed/"), "\(settled.stdout)")
    }

    // Issue 26: with processed/ unwritable the console said "done → recipients/processed/" and
    // then "rejected" for the same file.
    @Test func aFileThatCannotMoveToProcessedIsNotSaidToBeDone() throws {
        let workspace = try workspace(["recipients/inbox/order_shipped.csv": "email,name,orderId\nli@example.com,李雷,A1\n"])
        try workspace.write("recipients/processed", "a file where the folder should be\n")
        let result = try runHerald(["run", "--settle", "0s"], in: workspace.url)
        #expect(!result.stdout.contains("done → recipients/processed/"), "\(result.stdout)")
        #expect(result.stdout.contains("order_shipped.csv: rejected → recipients/rejected/order_shipped.csv.error.txt: "), "\(result.stdout)")
        #expect(result.status == 1)
    }

    @Test func dryRunSendsRecordsAndMovesNothing() throws {
        let workspace = try workspace(["recipients/inbox/order_shipped.today.csv": Self.batch])
        let result = try runHerald(["run", "--settle", "0s", "--dry-run"], in: workspace.url)
        #expect(result.stdout == """
            order_shipped.today.csv: checked (dry run; not moved)

            channel  invalid  rendered  total
            mail           2         3      5
            total          2         3      5

            """)
        #expect(workspace.exists("recipients/inbox/order_shipped.today.csv"))
        #expect(!workspace.exists("outbox/sent"))
        #expect(try workspace.logEvents().isEmpty)
    }

    @Test func sendOneNotificationIdempotentlyWithAnID() throws {
        let workspace = try workspace()
        let arguments = ["send", "--template", "order_shipped", "--to", "mail:li@example.com", "--to", "sms:13800138000",
                         "--param", "name=李雷", "--param", "orderId=A7", "--id", "ticket-7"]
        let first = try runHerald(arguments, in: workspace.url)
        #expect(first.stdout == """
            channel  sent  total
            mail        1      1
            sms         1      1
            total       2      2

            """)
        #expect(first.status == 0)
        let again = try runHerald(arguments, in: workspace.url)
        #expect(again.stdout.contains("mail             1      1"))
        #expect(again.stdout.hasPrefix("channel  duplicate  total"))
        let sms = try workspace.logEvents().first { $0["channel"] as? String == "sms" }
        #expect(sms?["recipient"] as? String == "+8613800138000")
        #expect(sms?["file"] as? String == "send")
    }

    @Test func aBadMobileInSendIsInvalidAndExits1() throws {
        let workspace = try workspace()
        let result = try runHerald(["send", "--template", "order_shipped", "--to", "sms:12345", "--param", "name=a", "--param", "orderId=b"],
                                   in: workspace.url)
        #expect(result.status == 1)
        #expect(result.stdout.contains("invalid"))
    }
}
