import Foundation
import Testing
import HeraldCore
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct CSVReaderTests {
    func records(_ bytes: [UInt8], bufferSize: Int = 64 * 1024) throws -> [CSVRecord] {
        let workspace = try TemporaryWorkspace()
        try workspace.write("x.csv", Data(bytes))
        let reader = try CSVReader(url: workspace.url.appendingPathComponent("x.csv"), bufferSize: bufferSize)
        var result: [CSVRecord] = []
        while let record = try reader.next() { result.append(record) }
        return result
    }

    func records(_ text: String, bufferSize: Int = 64 * 1024) throws -> [CSVRecord] {
        try records(Array(text.utf8), bufferSize: bufferSize)
    }

    static let tricky = "\u{FEFF}name,note,city\r\n\"Smith, John\",\"say \"\"hi\"\"\",北京\r\n\"多行\n备注\",\"a\r\nb\",上海\n\nlast,,广州"

    @Test(arguments: [3, 7, 64 * 1024])
    func quotingLineBreaksAndBOMAtAnyBufferSize(bufferSize: Int) throws {
        let result = try records(Self.tricky, bufferSize: bufferSize)
        #expect(result == [
            CSVRecord(fields: ["name", "note", "city"], line: 1),
            CSVRecord(fields: ["Smith, John", "say \"hi\"", "北京"], line: 2),
            CSVRecord(fields: ["多行\n备注", "a\r\nb", "上海"], line: 3),
            CSVRecord(fields: ["last", "", "广州"], line: 7),
        ])
    }

    // Issue 26: one CSV field of 1 GB was read whole (5.3 GB RSS, 29 s) before the row was
    // rejected as message_too_large. A row over the limit is skipped as it is read.
    @Test(arguments: [7, 64 * 1024])
    func aRowOverTheLimitIsAProblemAndIsNotHeld(bufferSize: Int) throws {
        let big = String(repeating: "长", count: CSVReader.largestRecord / 3 + 10)
        let text = "a,b\n1,\(big)\n\"2\",\"\(big)\nstill quoted\"\n3,4\n"
        let result = try records(text, bufferSize: bufferSize)
        #expect(result.count == 4)
        #expect(result[1].problem == "field 2 makes this row longer than 1 MB; rows are read up to 1 MB")
        #expect(result[1].fields == ["1", ""], "nothing of it is kept")
        #expect(result[2].problem?.hasPrefix("field 2 makes this row longer") == true && result[2].line == 3)
        #expect(result[3] == CSVRecord(fields: ["3", "4"], line: 5), "the rest of the file reads on, lines counted")
    }

    @Test func carriageReturnOnlyLineEndings() throws {
        #expect(try records("a,b\rc,d\r").map(\.fields) == [["a", "b"], ["c", "d"]])
        #expect(try records("a,b\rc,d\r").map(\.line) == [1, 2])
    }

    @Test func aQuoteNeverClosedIsAProblemOnItsRecord() throws {
        let result = try records("a,b\n1,\"open\n2,3\n")
        #expect(result.count == 2)
        #expect(result[1].line == 2)
        #expect(result[1].problem == "a quoted field starting on this line is never closed")
    }

    @Test func textAfterAClosingQuoteIsAProblem() throws {
        let result = try records("a,b\n\"x\"y,2\n3,4\n")
        #expect(result[1].problem == "text after a closing quote in field 1; double a quote inside a quoted field (\"\")")
        #expect(result[2] == CSVRecord(fields: ["3", "4"], line: 3))
    }

    @Test func invalidUTF8IsAnErrorNotAReplacement() throws {
        // "张三" in GBK: D5 C5 C8 FD.
        #expect(throws: CSVReadError(line: 2, reason: "not valid UTF-8 (is the file saved as GBK or Excel's ANSI? save it as UTF-8)")) {
            try records(Array("name\n".utf8) + [0xD5, 0xC5, 0xC8, 0xFD, 0x0A])
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct BatchFingerprintTests {
    @Test func hashesTheNameAndTheBytes() throws {
        let workspace = try TemporaryWorkspace(files: ["abc.csv": "abc", "other.csv": "abc"])
        let fingerprint = try BatchFingerprint.compute(workspace.url.appendingPathComponent("abc.csv"))
        // SHA-256 of "abc.csv", NUL, "abc" (python3 -c "import hashlib; print(hashlib.sha256(b'abc.csv\0abc').hexdigest())").
        #expect(fingerprint.sha256 == "b538c7a03bd6a6fe9dc7ca3425a76499b9be9e7411f9e25ac0be2cbf3914454e" && fingerprint.size == 3)
        // The bytes alone, as earlier versions named the batch: SHA-256 of "abc".
        #expect(fingerprint.legacyBatchID == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(try BatchFingerprint.compute(workspace.url.appendingPathComponent("other.csv")).batchID != fingerprint.batchID,
                "the same bytes under another name are another batch")
    }


    @Test func gbkIsRejectedWithItsLine() throws {
        let workspace = try TemporaryWorkspace()
        try workspace.write("gbk.csv", Data(Array("email,name\na@b.cn,ok\n".utf8) + [0x61, 0x2C, 0xD5, 0xC5, 0x0A]))
        #expect(throws: BatchRejection(line: 3, reason: "not valid UTF-8 text (is it saved as GBK or Excel's ANSI encoding?); save the file as UTF-8 and drop it again")) {
            try BatchFingerprint.compute(workspace.url.appendingPathComponent("gbk.csv"))
        }
    }

    @Test(arguments: [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE4, 0xB8]] as [[UInt8]])
    func overlongSurrogateOutOfRangeAndTruncatedSequencesAreRejected(bytes: [UInt8]) throws {
        let workspace = try TemporaryWorkspace()
        try workspace.write("bad.csv", Data(bytes))
        #expect(throws: BatchRejection.self) { try BatchFingerprint.compute(workspace.url.appendingPathComponent("bad.csv")) }
    }
}
