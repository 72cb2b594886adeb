import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct BatchReaderTests {
    let catalog = TemplateCatalog([Template(code: "order_shipped", name: "x",
                                            base: VariantSet(site: SiteVariant(type: "notification", content: TemplateText("{orderId}"))))])

    func read(_ name: String, _ contents: String) throws -> (declaredID: String?, records: [BatchRecord]) {
        let workspace = try TemporaryWorkspace(files: [name: contents])
        let reader = try BatchReaders.open(workspace.url.appendingPathComponent(name), catalog: catalog)
        var records: [BatchRecord] = []
        while let record = try reader.next() { records.append(record) }
        return (reader.declaredID, records)
    }

    @Test func csvReservedColumnsAndParametersWithTheTemplateFromTheFileName() throws {
        let (_, records) = try read("order_shipped.2026-11-27.csv", #"""
            user_id,email,mobile,locale,channels,orderId,note
            7,li@example.com,13800138000,en,mail|sms,A1,"a, ""b"""
            8,,,,,A2,

            """#)
        #expect(records == [
            .row(RecipientRow(row: 1, line: 2, template: "order_shipped", channels: ["mail", "sms"],
                              recipient: Recipient(userID: "7", email: "li@example.com", mobile: "13800138000", locale: "en"),
                              parameters: ["orderId": "A1", "note": "a, \"b\""])),
            .row(RecipientRow(row: 2, line: 3, template: "order_shipped", recipient: Recipient(userID: "8"),
                              parameters: ["orderId": "A2", "note": ""])),
        ])
    }

    @Test func csvTemplateColumnWinsAndBadRowsAreUnreadableWithTheirLine() throws {
        let (_, records) = try read("anything.csv", "template,email\norder_shipped,a@b.cn\nx,y,z\n\"open,\n")
        #expect(records == [
            .row(RecipientRow(row: 1, line: 2, template: "order_shipped", recipient: Recipient(email: "a@b.cn"))),
            .unreadable(row: 2, line: 3, reason: "3 fields, but the header has 2 columns; quote fields that contain commas"),
            .unreadable(row: 3, line: 4, reason: "a quoted field starting on this line is never closed"),
        ])
    }

    @Test(arguments: [
        ("mystery.csv", "email\na@b.cn\n", BatchRejection(line: 1, reason: "no template named: add a 'template' column, or name the file CODE.anything.csv after a template in templates/ (there is no template 'mystery')")),
        ("order_shipped.csv", "email,email\n", BatchRejection(line: 1, reason: "column 'email' appears twice in the header")),
        ("order_shipped.csv", "", BatchRejection(line: 1, reason: "the file is empty; a CSV batch needs a header row and rows")),
        ("order_shipped.json", "{\"recipients\": [", BatchRejection(line: 1, reason: "not valid JSON: the file ends where a value is expected (column 17)")),
        ("order_shipped.json", "[1, 2]", BatchRejection(reason: "a JSON batch is an object with a \"recipients\" array (use .jsonl for one recipient per line)")),
        ("batch.json", "{\"recipients\": [{\"email\": \"a@b.cn\"}]}", BatchRejection(reason: "no template named: add \"template\" to the batch or to each recipient")),
        ("order_shipped.xlsx", "", BatchRejection(reason: "Herald reads .csv, .json and .jsonl files; rename or remove 'order_shipped.xlsx'")),
    ])
    func unreadableFilesAreRejectedWithAReason(name: String, contents: String, rejection: BatchRejection) throws {
        #expect(throws: rejection) { try read(name, contents) }
    }

    @Test func jsonBatchFieldsMayFollowTheRecipientsAndABOMIsTolerated() throws {
        let (id, records) = try read("x.json", "\u{FEFF}" + #"""
            {"recipients": [{"user_id": "7", "params": {"note": "a\"b\\c\u00e9\n"}}],
             "params": {"orderId": "A9"}, "id": "late-id", "template": "order_shipped", "extra": {"deep": [1, {"x": null}]}}
            """#)
        #expect(id == "late-id")
        #expect(records == [.row(RecipientRow(row: 1, line: 1, template: "order_shipped", recipient: Recipient(userID: "7"),
                                              parameters: ["orderId": "A9", "note": "a\"b\\cé\n"]))])
    }

    @Test(arguments: [
        ("{\"template\": \"order_shipped\", \"recipients\": []} x", "not valid JSON: text after the batch object (column 49)"),
        ("{\"template\": \"order_shipped\", \"recipients\": [{\"a\": 01}]}", "not valid JSON: expected ',' or '}' inside a recipient but found '1' (column 53)"),
        ("{\"template\": \"order_shipped\", \"recipients\": [{\"a\": \"x\ty\"}]}", "not valid JSON: a control character inside a string (write it as \\n, \\t or \\u00XX) (column 55)"),
        ("{\"template\": \"order_shipped\", \"recipients\": [{\"a\": tru}]}", "not valid JSON: expected true but found '}' (column 55)"),
        ("{\"template\": \"order_shipped\", \"recipients\": {}}", "\"recipients\" must be an array of recipient objects"),
        ("{\"template\": \"order_shipped\", \"recipients\": [" + String(repeating: "[", count: 300) + "]}",
         "not valid JSON: objects and arrays nested more than 256 deep (column 301)"),
    ])
    func brokenJSONBatchesAreRejectedWithTheirPlace(contents: String, reason: String) throws {
        #expect(throws: BatchRejection(line: 1, reason: reason)) { try read("order_shipped.json", contents) }
    }

    // Issue 26: one huge value was read whole before its row was refused; now a row over the
    // limit is skipped as it is read, in JSON and JSON lines as in CSV, and the file reads on.
    @Test func aRowOverTheLimitIsUnreadableAndTheRestReadsOn() throws {
        let big = String(repeating: "长", count: CSVReader.largestRecord / 3 + 10)
        let (_, lines) = try read("order_shipped.jsonl", "{\"user_id\": \"1\", \"note\": \"\(big)\"}\n{\"user_id\": \"2\"}\n")
        guard case let .unreadable(_, line, reason) = lines[0] else { Issue.record("\(lines[0])"); return }
        #expect(line == 1 && reason.contains("longer than 1 MB"))
        #expect({ if case let .row(row) = lines[1] { row.recipient.userID == "2" } else { false } }())
        let (_, rows) = try read("order_shipped.json", "{\"recipients\": [{\"user_id\": \"1\", \"note\": \"\(big)\"}, {\"user_id\": \"2\"}]}")
        guard case let .unreadable(_, _, why) = rows[0] else { Issue.record("\(rows[0])"); return }
        #expect(why.contains("longer than 1 MB"))
        #expect({ if case let .row(row) = rows[1] { row.recipient.userID == "2" } else { false } }())
    }

    // Issue 26: a key given twice in a JSON row was accepted silently, the last one winning.
    @Test func aKeyGivenTwiceMakesTheRowUnreadableNamingIt() throws {
        let (_, lines) = try read("order_shipped.jsonl", """
            {"user_id": "1", "orderId": "A1", "user_id": "2"}
            {"user_id": "3", "params": {"orderId": "A3", "orderId": "A4"}}
            {"user_id": "5", "orderId": "A5", "note": "\\"user_id\\": 9"}
            """)
        let reasons = lines.map { record -> String? in if case let .unreadable(_, _, reason) = record { reason } else { nil } }
        #expect(reasons[0] == "the key 'user_id' appears twice in one object; write each key once")
        #expect(reasons[1] == "the key 'orderId' appears twice in one object; write each key once")
        #expect(reasons[2] == nil, "a key's name inside a string value is no key")
        let (_, rows) = try read("order_shipped.json", #"{"recipients": [{"user_id": "1", "email": "a@example.com", "email": "b@example.com"}]}"#)
        #expect(rows.count == 1 && { if case .unreadable = rows[0] { true } else { false } }())
        #expect(throws: BatchRejection.self) { try read("order_shipped.json", #"{"template": "a", "template": "order_shipped", "recipients": []}"#) }
    }

    // Issue 26: a dropped file could declare the id a posted batch has, or a file's computed id.
    @Test func onlyAFileThatServeWroteMayCarryAnAPIBatchID() throws {
        for id in ["api:0:app:squat-2026", "SHA256:00ff"] {
            let contents = #"{"id": "\#(id)", "template": "order_shipped", "recipients": [{"user_id": "1"}]}"#
            #expect(throws: BatchRejection.self) { try read("order_shipped.json", contents) }
            #expect(throws: BatchRejection.self) { try read("order_shipped.api-0123456789abcdef.json", contents) }
        }
        let posted = Data(#"{"id": "api:0:app:squat-2026", "template": "order_shipped", "recipients": [{"user_id": "1"}]}"#.utf8)
        let name = IngestBatchFile.name(template: "order_shipped", bytes: posted)
        #expect(try read(name, String(decoding: posted, as: UTF8.self)).declaredID == "api:0:app:squat-2026")
    }

    @Test func jsonBatchAppliesDefaultsAndPerRecipientOverrides() throws {

        let (id, records) = try read("batch.json", """
            {"id": "promo-42", "template": "order_shipped", "channels": ["site"], "params": {"orderId": "A0", "shop": "云商城"},
             "recipients": [
               {"user_id": 10001, "params": {"orderId": "A1"}},
               {"user_id": "u2", "template": "order_shipped", "channels": "site|mail", "locale": "en", "vip": true, "score": 4.5},
               "not an object"
             ]}
            """)
        #expect(id == "promo-42")
        #expect(records == [
            .row(RecipientRow(row: 1, line: 3, template: "order_shipped", channels: ["site"], recipient: Recipient(userID: "10001"),
                              parameters: ["orderId": "A1", "shop": "云商城"])),
            .row(RecipientRow(row: 2, line: 4, template: "order_shipped", channels: ["site", "mail"], recipient: Recipient(userID: "u2", locale: "en"),
                              parameters: ["orderId": "A0", "shop": "云商城", "vip": "true", "score": "4.5"])),
            .unreadable(row: 3, line: 5, reason: "recipient 3 is not a JSON object"),
        ])
    }

    @Test func jsonLinesKeepGoingPastABrokenLine() throws {
        let (_, records) = try read("codes.jsonl", """
            {"template": "order_shipped", "mobile": "13800138000", "params": {"orderId": "A1"}}

            {"template": "order_shipped", "mobile": oops}
            [1]
            {"template": "order_shipped", "user_id": 9, "params": {"orderId": "A9"}}
            """)
        guard records.count == 4, case let .unreadable(row, line, reason) = records[1] else {
            Issue.record("unexpected records \(records)")
            return
        }
        #expect(records[0] == .row(RecipientRow(row: 1, line: 1, template: "order_shipped", recipient: Recipient(mobile: "13800138000"), parameters: ["orderId": "A1"])))
        #expect(row == 2 && line == 3 && reason.hasPrefix("not valid JSON"))
        #expect(records[2] == .unreadable(row: 3, line: 4, reason: "each line must be one JSON object"))
        #expect(records[3] == .row(RecipientRow(row: 4, line: 5, template: "order_shipped", recipient: Recipient(userID: "9"), parameters: ["orderId": "A9"])))
    }
}
