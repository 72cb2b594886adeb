import Foundation
import Testing
import HeraldChannels
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct MIMEMessageTests {
    let date = Date(timeIntervalSince1970: 1_795_000_000)
    let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    func message(subject: String, text: String?, html: String?, name: String = "云商城客服") -> MIMEMessage {
        MIMEMessage(from: MailAddress("noreply@shop.example.com", name: name),
                    to: [MailAddress("li@example.com", name: "李雷")], subject: subject, text: text, html: html,
                    date: date, timeZone: shanghai, messageID: "m1@shop.example.com")
    }

    @Test func everyLineEndsInCRLFAndStaysShort() {
        let long = String(repeating: "订单已发货，感谢您的支持。The quick brown fox. ", count: 40)
        let wire = message(subject: "测试", text: long, html: "<p>\(long)</p>").rendered()
        let bytes = Array(wire.utf8)
        for (index, byte) in bytes.enumerated() where byte == 0x0A {
            #expect(index > 0 && bytes[index - 1] == 0x0D, "bare LF at \(index)")
        }
        for line in wire.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 78, "long line: \(line)")
        }
    }

    @Test func headersInOrderWithDateAndMessageID() {
        let wire = message(subject: "Hello", text: "hi", html: nil).rendered()
        let headerBlock = wire.components(separatedBy: "\r\n\r\n")[0]
        #expect(headerBlock == """
            Date: Wed, 18 Nov 2026 19:06:40 +0800\r
            From: =?UTF-8?B?5LqR5ZWG5Z+O5a6i5pyN?= <noreply@shop.example.com>\r
            To: =?UTF-8?B?5p2O6Zu3?= <li@example.com>\r
            Message-ID: <m1@shop.example.com>\r
            Subject: Hello\r
            MIME-Version: 1.0\r
            Content-Type: text/plain; charset=UTF-8\r
            Content-Transfer-Encoding: quoted-printable
            """)
    }

    @Test func bodyEncodingFollowsTheText() {
        #expect(BodyEncoding.choose(for: "Your order has shipped.") == .quotedPrintable)
        #expect(BodyEncoding.choose(for: "您的订单已发货") == .base64)
        #expect(BodyEncoding.quotedPrintable.encode("a=b \nc\t") == "a=3Db=20\r\nc=09")
        let long = String(repeating: "x", count: 200)
        for line in BodyEncoding.quotedPrintable.encode(long).components(separatedBy: "\r\n") {
            #expect(line.count <= 76)
        }
    }

    @Test(arguments: [
        ("【云商城】Order 订单 #A1001 has shipped 已发货 — 感谢您的支持！🎉🚚 Please review 请评价 👨‍👩‍👧‍👦 家庭套餐 family plan", "云商城客服中心 Cloud Shop Customer Service 🛒"),
        ("Plain ASCII subject that is quite long and must be folded somewhere along the way to stay under 78", "Cloud Shop"),
        ("短", "商"),
    ])
    func pythonReadsBackSubjectNameAndBodies(subject: String, name: String) throws {
        let text = "李雷，您好：\n您的订单 A1001 已发货。\nLine with = sign and trailing space \n" + String(repeating: "很长的一行", count: 40)
        let html = "<p>李雷，您好：</p><p>订单 <b>A1001</b> 已发货。</p><style>p { color: #333 }</style>"
        let parsed = try parseWithPython(message(subject: subject, text: text, html: html, name: name).data)
        #expect(parsed.subject == subject)
        #expect(parsed.fromName == name)
        #expect(parsed.fromAddress == "noreply@shop.example.com")
        #expect(parsed.to == "李雷 <li@example.com>")
        #expect(parsed.text?.replacingOccurrences(of: "\r\n", with: "\n") == text)
        #expect(parsed.html?.trimmingCharacters(in: .newlines) == html)
        #expect(parsed.defects.isEmpty)
    }
}
