import Foundation
import Testing
import HeraldCore

@Suite(.timeLimit(.minutes(1))) struct AddressValidationTests {
    @Test(arguments: ["li@example.com", "li.lei+orders@mail.example.com.cn", "o'brien@example.ie", "用户@例子.中国", "a@b-c.io"])
    func acceptedEmails(address: String) {
        #expect(AddressValidation.emailProblem(address) == nil)
    }

    @Test(arguments: [
        ("li lei@example.com", "contains a space"),
        ("li@", "missing domain"),
        ("li", "no @"),
        ("li@@example.com", "more than one @"),
        ("li..lei@example.com", "dots at the start, end or twice in a row before @"),
        ("li@example..com", "consecutive or trailing dots in the domain"),
        ("li@localhost", "domain 'localhost' has no dot"),
        ("@example.com", "nothing before @"),
        ("li@-example.com", "domain label '-example' has a character that is not allowed"),
        // Cases the byte-level fast path must hand to the full check.
        ("li@example-.com", "domain label 'example-' has a character that is not allowed"),
        ("li@example.com-", "domain label 'com-' has a character that is not allowed"),
        ("li@.example.com", "consecutive or trailing dots in the domain"),
        ("li@example.com.", "consecutive or trailing dots in the domain"),
        (".li@example.com", "dots at the start, end or twice in a row before @"),
        ("li.@example.com", "dots at the start, end or twice in a row before @"),
        ("li\t@example.com", "contains a space"),
        ("li(x)@example.com", "a character that is not allowed before @"),
        ("li@exa_mple.com", "domain label 'exa_mple' has a character that is not allowed"),
        (String(repeating: "a", count: 65) + "@example.com", "local part longer than 64 characters"),
        ("li@" + String(repeating: "a", count: 64) + ".com", "a domain label longer than 63 characters"),
        ("li@b.c@d.com", "more than one @"),
    ])
    func rejectedEmailsSayWhy(address: String, problem: String) {
        #expect(AddressValidation.emailProblem(address) == problem)
    }

    @Test(arguments: [
        ("13800138000", "+8613800138000"), ("+8613800138000", "+8613800138000"), ("8613800138000", "+8613800138000"),
        ("+86 138-0013-8000", "+8613800138000"), ("19912345678", "+8619912345678"), ("+14155550123", "+14155550123"),
        ("+447911123456", "+447911123456"),
    ])
    func mobilesAreNormalised(input: String, normalised: String) {
        #expect(AddressValidation.normalizeMobile(input) == normalised)
    }

    @Test(arguments: ["12800138000", "1380013800", "138001380001", "+0123456789", "+1234567", "abc", "", "4155550123", "+1415555012345678",
                      "+86138001380001", "+86 1380013800", "+861280013800"])
    func badMobilesAreRejected(input: String) {
        #expect(AddressValidation.normalizeMobile(input) == nil)
    }
}

@Suite(.timeLimit(.minutes(1))) struct TimestampTests {
    @Test func isoWithOffsetAndDay() throws {
        let date = Date(timeIntervalSince1970: 1_795_017_599.5) // 2026-11-18T15:59:59.5Z
        let shanghai = try #require(TimeZone(identifier: "Asia/Shanghai"))
        let newYork = try #require(TimeZone(identifier: "America/New_York"))
        #expect(Timestamp.iso8601(date, timeZone: shanghai) == "2026-11-18T23:59:59.500+08:00")
        #expect(Timestamp.iso8601(date.addingTimeInterval(1), timeZone: shanghai) == "2026-11-19T00:00:00.500+08:00")
        #expect(Timestamp.day(date.addingTimeInterval(1), timeZone: shanghai) == "2026-11-19")
        #expect(Timestamp.iso8601(date, timeZone: newYork) == "2026-11-18T10:59:59.500-05:00")
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: 0), timeZone: TimeZone(identifier: "UTC")!) == "1970-01-01T00:00:00.000Z")
    }
}
