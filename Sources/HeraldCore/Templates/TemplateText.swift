/// A template field split into literal text and `{name}` placeholders.
///
/// A placeholder is `{` + a name matching `[A-Za-z_][A-Za-z0-9_]*` + `}`; every other brace is
/// literal, so CSS blocks and JSON in a body pass through untouched:
///
/// ```swift
/// let text = TemplateText("p { color: red } 订单{orderId}")
/// text.placeholders            // ["orderId"]
/// text.render(["orderId": "A1"], escaping: .plain)   // "p { color: red } 订单A1"
/// ```
public struct TemplateText: Sendable, Hashable, CustomStringConvertible {
    /// One piece of a template field.
    public enum Segment: Sendable, Hashable {
        case literal(String)
        case placeholder(String)
    }

    /// The field as written in the template.
    public let source: String
    /// Literal runs and placeholders, in order.
    public let segments: [Segment]

    /// Placeholder names in order of first use, each once.
    public let placeholders: [String]

    /// Splits `source` into segments.
    public init(_ source: String) {
        self.source = source
        let segments = Self.split(source)
        self.segments = segments
        var seen = Set<String>()
        placeholders = segments.compactMap { segment in
            guard case let .placeholder(name) = segment, seen.insert(name).inserted else { return nil }
            return name
        }
    }

    public static func == (lhs: TemplateText, rhs: TemplateText) -> Bool { lhs.source == rhs.source }

    public func hash(into hasher: inout Hasher) { hasher.combine(source) }

    /// Replaces each placeholder with its value, escaped for the field's context.
    /// Every placeholder must have a value; the renderer checks that before calling.
    public func render(_ values: [String: String], escaping: Escaping) -> String {
        // Built as UTF-8 bytes and made a String once: cheaper than growing a String piece by piece.
        var output: [UInt8] = []
        output.reserveCapacity(source.utf8.count + 64)
        for segment in segments {
            switch segment {
            case let .literal(text): output.append(contentsOf: text.utf8)
            case let .placeholder(name): output.append(contentsOf: escaping.apply(values[name] ?? "").utf8)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    public var description: String { source }

    private static func split(_ source: String) -> [Segment] {
        var segments: [Segment] = []
        var literal = String.UnicodeScalarView()
        let scalars = Array(source.unicodeScalars)
        var index = 0
        while index < scalars.count {
            if scalars[index] == "{", let end = nameEnd(in: scalars, from: index + 1),
               end < scalars.count, scalars[end] == "}" {
                if !literal.isEmpty {
                    segments.append(.literal(String(literal)))
                    literal = String.UnicodeScalarView()
                }
                var name = String.UnicodeScalarView()
                name.append(contentsOf: scalars[(index + 1)..<end])
                segments.append(.placeholder(String(name)))
                index = end + 1
            } else {
                literal.append(scalars[index])
                index += 1
            }
        }
        if !literal.isEmpty { segments.append(.literal(String(literal))) }
        return segments
    }

    /// The index after a name starting at `start`, or nil when no name starts there.
    private static func nameEnd(in scalars: [Unicode.Scalar], from start: Int) -> Int? {
        guard start < scalars.count, isNameStart(scalars[start]) else { return nil }
        var index = start + 1
        while index < scalars.count, isNameStart(scalars[index]) || ("0"..."9").contains(scalars[index]) {
            index += 1
        }
        return index
    }

    private static func isNameStart(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
    }
}

/// How a parameter value is made safe for the field it lands in.
public enum Escaping: Sendable, Hashable {
    /// Inserted as given (SMS, WeChat data, site content, plain-text mail).
    case plain
    /// `& < > " '` become entities (mail `html`).
    case html
    /// CR, LF and other control characters (but tab) removed, so a value cannot start a new header
    /// (mail title, nicknames).
    case header
    /// Markdown of the chat platforms (企业微信, 钉钉, 飞书): a value cannot add markup, a link or a
    /// block. None of them documents an escape they all honour, so the characters that make
    /// markup become their full-width forms (`[` → `［`, `*` → `＊`, `<` → `＜`) and line breaks
    /// become spaces; the text still reads the same.
    case markdown

    /// Returns `value` escaped for this context. Works on UTF-8 bytes: a value with nothing to
    /// escape is returned as it is, and a `<` followed by a combining mark is escaped too (as a
    /// `Character` it would not equal `<`).
    public func apply(_ value: String) -> String {
        switch self {
        case .plain:
            return value
        case .html:
            let special: (UInt8) -> Bool = { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }
            guard value.utf8.contains(where: special) else { return value }
            var output: [UInt8] = []
            output.reserveCapacity(value.utf8.count + 16)
            for byte in value.utf8 {
                switch byte {
                case 0x26: output += Array("&amp;".utf8)
                case 0x3C: output += Array("&lt;".utf8)
                case 0x3E: output += Array("&gt;".utf8)
                case 0x22: output += Array("&quot;".utf8)
                case 0x27: output += Array("&#39;".utf8)
                default: output.append(byte)
                }
            }
            return String(decoding: output, as: UTF8.self)
        case .header:
            // Only a byte below 0x20, DEL, or the lead bytes of U+0085, U+2028 and U+2029 can start
            // a control character; without them there is nothing to remove.
            guard value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F || $0 == 0xC2 || $0 == 0xE2 }) else { return value }
            var scalars = String.UnicodeScalarView()
            for scalar in value.unicodeScalars where !Self.isControl(scalar) {
                scalars.append(scalar)
            }
            return String(scalars)
        case .markdown:
            guard value.unicodeScalars.contains(where: { Self.markdownForms[$0] != nil || Self.isControl($0) }) else { return value }
            var scalars = String.UnicodeScalarView()
            for scalar in value.unicodeScalars {
                if let wide = Self.markdownForms[scalar] {
                    scalars.append(wide)
                } else if Self.isControl(scalar) || scalar == "\r" || scalar == "\n" {
                    scalars.append(" ")
                } else {
                    scalars.append(scalar)
                }
            }
            return String(scalars)
        }
    }

    /// Markdown's markup characters and the full-width forms that replace them in values.
    static let markdownForms: [Unicode.Scalar: Unicode.Scalar] = [
        "\\": "＼", "`": "｀", "*": "＊", "_": "＿", "[": "［", "]": "］", "(": "（", ")": "）", "#": "＃", ">": "＞",
        "<": "＜", "!": "！", "~": "～", "|": "｜", "@": "＠",
    ]

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F || scalar == "\u{2028}" || scalar == "\u{2029}"
            || scalar == "\u{85}"
    }
}
