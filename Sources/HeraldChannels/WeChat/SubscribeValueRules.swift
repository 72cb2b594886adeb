import Foundation
import HeraldCore

/// The value rules of WeChat mini-program subscribe messages, chosen by the data key's type
/// prefix (`thing2` → `thing`), as developers.weixin.qq.com documents them for
/// subscribeMessage.send. Lengths count characters, so a Chinese character is one. WeChat refuses
/// a message whose value breaks its rule (47003), so the render stage checks first and
/// `herald check` reports literal values that break one.
public struct SubscribeValueRules: ContentRules {
    /// The rules.
    public init() {}

    /// Subscribe messages.
    public var channel: Channel { .wechatMini }

    /// Checks every data value; with the variant's `truncate`, a text too long is cut instead.
    public func apply(to message: RenderedMessage, template: Template, locale: String?) -> Result<RenderedMessage, StageFailure> {
        guard case var .wechatMini(wechat) = message.content else { return .success(message) }
        let truncate = template.variants(for: locale, channel: .wechatMini).variants.wechatMini?.truncate ?? false
        for index in wechat.data.indices {
            switch Self.check(key: wechat.data[index].key, value: wechat.data[index].value, truncate: truncate) {
            case let .success(value): wechat.data[index].value = value
            case let .failure(failure): return .failure(failure)
            }
        }
        var message = message
        message.content = .wechatMini(wechat)
        return .success(message)
    }

    /// Data values written literally (no placeholder) in any locale's variant that break their rule.
    public func literalProblems(in template: Template) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        let sets = [template.base] + template.locales.keys.sorted().compactMap { template.locales[$0] }
        for variant in sets.compactMap(\.wechatMini) {
            for item in variant.data where item.value.placeholders.isEmpty {
                if case let .failure(failure) = Self.check(key: item.key, value: item.value.source, truncate: variant.truncate) {
                    let diagnostic = Diagnostic.error(failure.reason, at: template.sourceMap.wechatMiniData ?? SourceLocation(file: template.file))
                    if !diagnostics.contains(diagnostic) { diagnostics.append(diagnostic) }
                }
            }
        }
        return diagnostics
    }

    /// The type of a data key: its letters and underscores before the number (`character_string1`).
    public static func type(of key: String) -> String {
        String(key.prefix { !$0.isNumber })
    }

    /// The value to send, or why it cannot be sent. With `truncate`, a text type that is too long
    /// is cut and ends with `…` instead of failing.
    public static func check(key: String, value: String, truncate: Bool) -> Result<String, StageFailure> {
        let type = type(of: key)
        func fail(_ rule: String) -> Result<String, StageFailure> {
            .failure(StageFailure(.invalid, code: .wechatValue, "subscribe data '\(key)' (\(type)) is '\(value)': \(rule)"))
        }
        func limited(_ limit: Int, _ rule: String, allowed: (Character) -> Bool = { _ in true }) -> Result<String, StageFailure> {
            guard value.allSatisfy(allowed) else { return fail(rule) }
            if value.count <= limit { return .success(value) }
            if truncate { return .success(String(value.prefix(limit - 1)) + "…") }
            return fail("\(value.count) characters, at most \(limit) allowed (\(rule)); shorten it or set `truncate: true`")
        }
        switch type {
        case "thing":
            return limited(20, "thing: at most 20 characters")
        case "number":
            guard value.count <= 32, value.wholeMatch(of: /[0-9]+(\.[0-9]+)?/) != nil else {
                return fail("number: at most 32 digits, with an optional decimal point")
            }
            return .success(value)
        case "letter":
            return limited(32, "letter: letters only, at most 32", allowed: { $0.isASCII && $0.isLetter })
        case "symbol":
            guard value.count <= 5, value.allSatisfy({ $0.isASCII && !$0.isLetter && !$0.isNumber && !$0.isWhitespace }) else {
                return fail("symbol: at most 5 symbols")
            }
            return .success(value)
        case "character_string":
            return limited(32, "character_string: digits, letters and symbols, no Chinese, at most 32", allowed: { $0.isASCII })
        case "time":
            let pattern = /((\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}) ?)?\d{1,2}:\d{2}(:\d{2})?/
            guard value.split(separator: "~").allSatisfy({ $0.trimmingCharacters(in: .whitespaces).wholeMatch(of: pattern) != nil }) else {
                return fail("time: a 24-hour time, optionally with a date (15:01, 2019年10月1日 15:01), a range joined by ~")
            }
            return .success(value)
        case "date":
            let pattern = /(\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2})( ?\d{1,2}:\d{2}(:\d{2})?)?/
            guard value.split(separator: "~").allSatisfy({ $0.trimmingCharacters(in: .whitespaces).wholeMatch(of: pattern) != nil }) else {
                return fail("date: a date, optionally with a time (2019年10月1日, 2019-10-01 15:01), a range joined by ~")
            }
            return .success(value)
        case "amount":
            guard value.wholeMatch(of: /[¥￥$€£]?[0-9]{1,10}(\.[0-9]{1,2})?元?/) != nil else {
                return fail("amount: a currency symbol and at most 10 digits, decimals allowed, may end with 元")
            }
            return .success(value)
        case "phone_number":
            guard value.count <= 17, value.allSatisfy({ $0.isASCII && ($0.isNumber || "+-()# ".contains($0)) }) else {
                return fail("phone_number: at most 17 digits and symbols (+86-0766-66888866)")
            }
            return .success(value)
        case "car_number":
            let characters = Array(value)
            let middleOK = characters.dropFirst().dropLast().allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
            guard (1...8).contains(characters.count), middleOK else {
                return fail("car_number: at most 8 characters; only the first and last may be Chinese")
            }
            return .success(value)
        case "name":
            let chinese = value.contains { !$0.isASCII }
            return chinese ? limited(10, "name: at most 10 characters when it has Chinese")
                           : limited(20, "name: at most 20 letters and symbols")
        case "phrase":
            return limited(5, "phrase: at most 5 Chinese characters", allowed: { !$0.isASCII })
        default:
            return .success(value)
        }
    }
}
