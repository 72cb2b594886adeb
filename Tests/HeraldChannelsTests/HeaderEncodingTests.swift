import Foundation
import Testing
import HeraldChannels

@Suite(.timeLimit(.minutes(1))) struct HeaderEncodingTests {
    /// Decodes a folded header value made of encoded-words back to text.
    func decode(_ header: String) throws -> String {
        let words = header.components(separatedBy: "\r\n ").flatMap { $0.split(separator: " ") }
            .filter { $0.hasPrefix("=?") }
        var bytes = Data()
        for word in words {
            #expect(word.hasPrefix("=?UTF-8?B?") && word.hasSuffix("?="))
            let payload = word.dropFirst(10).dropLast(2)
            let chunk = try #require(Data(base64Encoded: String(payload)))
            // Each word must hold whole characters: it decodes as UTF-8 on its own.
            #expect(String(data: chunk, encoding: .utf8) != nil, "word \(word) splits a character")
            bytes += chunk
        }
        return try #require(String(data: bytes, encoding: .utf8))
    }

    @Test func asciiSubjectsStayReadable() {
        #expect(HeaderEncoding.header("Subject", "Your order A1 has shipped") == "Subject: Your order A1 has shipped")
    }

    @Test(arguments: [
        "您的订单 A1001 已发货",
        "【云商城】Order 订单 #A1001 has shipped 已发货 — 感谢您的支持！🎉🚚 Please review 请评价 👨‍👩‍👧‍👦 家庭套餐 family plan",
        String(repeating: "长", count: 120),
        String(repeating: "👨‍👩‍👧‍👦", count: 12),
        "=?UTF-8?B?not-really?= looks encoded",
    ])
    func encodedWordsFitTheLineLimitAndRoundTrip(subject: String) throws {
        let header = HeaderEncoding.header("Subject", subject)
        for line in header.components(separatedBy: "\r\n") {
            #expect(line.count <= 76, "line too long: \(line)")
            #expect(line.unicodeScalars.allSatisfy { $0.isASCII })
        }
        for word in header.split(whereSeparator: { $0 == " " || $0 == "\r\n" }) where word.hasPrefix("=?") {
            #expect(word.count <= 75)
        }
        #expect(try decode(String(header.dropFirst("Subject: ".count))) == subject)
    }

    @Test func displayNamesAreEncodedQuotedOrBare() {
        #expect(HeaderEncoding.mailbox(MailAddress("a@b.example", name: "商城客服"))
                == "=?UTF-8?B?5ZWG5Z+O5a6i5pyN?= <a@b.example>")
        #expect(HeaderEncoding.mailbox(MailAddress("a@b.example", name: "Cloud Shop")) == "Cloud Shop <a@b.example>")
        #expect(HeaderEncoding.mailbox(MailAddress("a@b.example", name: "Shop, \"Inc\"")) == #""Shop, \"Inc\"" <a@b.example>"#)
        #expect(HeaderEncoding.mailbox(MailAddress("a@b.example")) == "<a@b.example>")
    }
}
