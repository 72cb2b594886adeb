import Foundation

/// The rule for a `List-Unsubscribe` target (a row's `unsubscribe_url`, a template's
/// `unsubscribe`): an absolute `https:`, `http:` or `mailto:` URL with nothing that could end
/// the header or the `<…>` around it. `javascript:` links, CR/LF and relative paths are refused.
public enum UnsubscribeLink {
    /// Why `text` cannot be an unsubscribe link, or nil when it can.
    public static func problem(_ text: String) -> String? {
        if let bad = text.unicodeScalars.first(where: { $0.value < 0x21 || $0.value == 0x7F || "<>\"".unicodeScalars.contains($0) }) {
            return "unsubscribe link '\(text.debugDescriptionTrimmed)' contains \(bad.value < 0x21 || bad.value == 0x7F ? String(format: "the control character U+%04X", bad.value) : "'\(bad)'"), which would break the List-Unsubscribe header"
        }
        let lower = text.lowercased()
        if lower.hasPrefix("mailto:") {
            return text.count > "mailto:".count && text.contains("@") ? nil : "unsubscribe link '\(text)' is a mailto: without an address"
        }
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else {
            return "unsubscribe link '\(text)' must be an absolute https:, http: or mailto: URL"
        }
        let afterScheme = text[text.index(text.startIndex, offsetBy: lower.hasPrefix("https://") ? 8 : 7)...]
        let host = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return host.isEmpty ? "unsubscribe link '\(text)' has no host" : nil
    }
}

extension String {
    /// The text with control characters shown as escapes, for messages.
    var debugDescriptionTrimmed: String {
        String(debugDescription.dropFirst().dropLast())
    }
}
