import Testing
@testable import HeraldCore

@Suite(.timeLimit(.minutes(1))) struct TemplateTextTests {
    @Test func cssBracesAreLiteral() {
        let text = TemplateText("<style>p { color: red; } .a{b:c}</style><p>{name}</p>")
        #expect(text.placeholders == ["name"])
        #expect(text.render(["name": "李"], escaping: .plain) == "<style>p { color: red; } .a{b:c}</style><p>李</p>")
    }

    @Test func repeatedNamesAreListedOnceInOrderOfFirstUse() {
        let text = TemplateText("{b}{a}{b} {a}")
        #expect(text.placeholders == ["b", "a"])
        #expect(text.render(["a": "1", "b": "2"], escaping: .plain) == "212 1")
    }

    @Test func nonASCIITextAroundPlaceholders() {
        let text = TemplateText("您好{name}，订单{order_id}已发货🚚")
        #expect(text.segments == [.literal("您好"), .placeholder("name"), .literal("，订单"),
                                  .placeholder("order_id"), .literal("已发货🚚")])
    }

    @Test(arguments: ["{1abc}", "{名字}", "{a-b}", "{ name }", "{name", "name}", "{}", "{{", "{\"json\": 1}"])
    func textThatIsNotAPlaceholderStaysLiteral(source: String) {
        let text = TemplateText(source)
        #expect(text.placeholders.isEmpty)
        #expect(text.render([:], escaping: .plain) == source)
    }

    @Test func doubledBracesKeepTheOuterPairLiteral() {
        #expect(TemplateText("{{name}}").render(["name": "x"], escaping: .plain) == "{x}")
    }

    @Test func htmlEscapingCoversMarkupAndQuotes() {
        #expect(Escaping.html.apply(#"<script>alert("x")</script> & 'y'"#)
                == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;")
    }

    @Test func htmlEscapingDoesNotLetACombiningMarkHideAnAngleBracket() {
        // "<" + U+0338 is one Character ("≮"), not "<": escaping by Character let the "<" through.
        #expect(Escaping.html.apply("<\u{338}img src=x onerror=alert(1)>") == "&lt;\u{338}img src=x onerror=alert(1)&gt;")
        #expect(Escaping.html.apply("\"\u{301}onmouseover=x") == "&quot;\u{301}onmouseover=x")
        #expect(Escaping.html.apply("李雷 A1001") == "李雷 A1001")
    }

    @Test func headerEscapingRemovesLineBreaks() {
        #expect(Escaping.header.apply("订单\r\nBcc: evil@example.com\n") == "订单Bcc: evil@example.com")
        #expect(Escaping.header.apply("a\u{2028}b\tc") == "ab\tc")
    }
}
