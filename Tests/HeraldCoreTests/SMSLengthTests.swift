import Testing
import HeraldCore

@Suite(.timeLimit(.minutes(1))) struct SMSLengthTests {
    @Test(arguments: [(70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)])
    func chineseIsUCS2With70Then67PerPart(count: Int, parts: Int) {
        let length = SMSLength.measure(String(repeating: "短", count: count))
        #expect(length == SMSLength(encoding: .ucs2, units: count, segments: parts))
    }

    @Test(arguments: [(160, 1), (161, 2), (306, 2), (307, 3)])
    func asciiIsGSM7With160Then153PerPart(count: Int, parts: Int) {
        let length = SMSLength.measure(String(repeating: "a", count: count))
        #expect(length == SMSLength(encoding: .gsm7, units: count, segments: parts))
    }

    @Test func extensionCharactersCountTwice() {
        #expect(SMSLength.measure("€[]").units == 6)
        #expect(SMSLength.measure(String(repeating: "{", count: 80)).segments == 1)
        #expect(SMSLength.measure(String(repeating: "{", count: 81)).segments == 2)
    }

    @Test func oneChineseCharacterTurnsTheWholeTextIntoUCS2() {
        let length = SMSLength.measure(String(repeating: "a", count: 69) + "中")
        #expect(length == SMSLength(encoding: .ucs2, units: 70, segments: 1))
    }

    @Test func emojiTakesTwoUTF16Units() {
        #expect(SMSLength.measure("👍").units == 2)
    }

    @Test func theSignatureIsCounted() {
        // 65 characters of content + 【云商城】 (5) = 70: one part; one more makes two.
        let body = String(repeating: "好", count: 65)
        let signed = RenderedSMS(channels: ["aliyun"], apiTemplateID: "SMS_1", content: body, signature: "云商城", parameters: [])
        #expect(signed.signedText.hasPrefix("【云商城】"))
        #expect(signed.length.segments == 1)
        var longer = signed
        longer.content += "好"
        #expect(longer.length == SMSLength(encoding: .ucs2, units: 71, segments: 2))
    }
}
