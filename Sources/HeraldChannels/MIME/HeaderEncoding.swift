import Foundation
import Synchronization

/// RFC 2047 encoded-words and RFC 5322 header folding.
///
/// Non-ASCII header text becomes `=?UTF-8?B?…?=` words of at most 75 characters, each holding
/// whole characters (an emoji or a Chinese character is never split across two words), folded
/// onto continuation lines so no line passes 76 characters.
public enum HeaderEncoding {
    /// Longest line a header may produce, per RFC 2047 §2 for lines holding encoded-words.
    static let lineLimit = 76
    private static let prefix = "=?UTF-8?B?"
    private static let suffix = "?="

    /// The full header line(s) `Name: value`, without the final CRLF. ASCII text that fits is
    /// folded at spaces; anything else is encoded-words.
    public static func header(_ name: String, _ value: String) -> String {
        let lead = "\(name): "
        if needsEncoding(value) {
            return lead + encodedWords(value, firstLineUsed: lead.count).joined(separator: "\r\n ")
        }
        return fold(lead + value)
    }

    /// Whether `text` needs encoded-words: any non-ASCII or control character, or a run that
    /// looks like an encoded-word already.
    public static func needsEncoding(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0.value > 0x7E || ($0.value < 0x20 && $0 != "\t") } || text.contains("=?")
    }

    /// Splits `text` into encoded-words on character boundaries. `firstLineUsed` is how much
    /// of the first line the header name already takes.
    public static func encodedWords(_ text: String, firstLineUsed: Int = 0) -> [String] {
        var words: [String] = []
        var pending = [UInt8]()
        var budget = byteBudget(lineUsed: firstLineUsed)
        for character in text {
            let size = character.utf8.count
            if !pending.isEmpty && pending.count + size > budget {
                words.append(word(pending))
                pending.removeAll(keepingCapacity: true)
                budget = byteBudget(lineUsed: 1)
            }
            pending.append(contentsOf: character.utf8)
        }
        if !pending.isEmpty || words.isEmpty { words.append(word(pending)) }
        return words
    }

    /// Raw bytes that fit one encoded-word on a line already holding `lineUsed` characters.
    private static func byteBudget(lineUsed: Int) -> Int {
        let room = min(75, lineLimit - lineUsed) - prefix.count - suffix.count
        return max(3, room / 4 * 3)
    }

    private static func word(_ bytes: [UInt8]) -> String {
        prefix + Data(bytes).base64EncodedString() + suffix
    }

    /// Folds an ASCII header line at spaces so lines stay within 78 characters where possible.
    static func fold(_ line: String) -> String {
        guard line.count > 78 else { return line }
        var lines: [String] = []
        var current = ""
        for (index, piece) in line.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            let word = String(piece)
            if index == 0 {
                current = word
            } else if current.count + 1 + word.count > 78 && !current.trimmingCharacters(in: .whitespaces).isEmpty {
                lines.append(current)
                current = " " + word
            } else {
                current += " " + word
            }
        }
        lines.append(current)
        return lines.joined(separator: "\r\n")
    }

    /// An address with an optional display name: `=?UTF-8?B?…?= <a@b.c>`, `"Name, Inc." <a@b.c>`
    /// or `<a@b.c>`. `lineUsed` is what precedes it on the line, for the first word's length.
    ///
    /// In a non-ASCII name, plain ASCII words stay readable atoms and only the runs that need it
    /// become encoded-words, so a space in the name is real whitespace between an atom and an
    /// encoded-word, which every reader keeps (readers differ on whitespace between two
    /// encoded-words, which RFC 2047 says to drop).
    public static func mailbox(_ address: MailAddress, lineUsed: Int = 0) -> String {
        guard let name = address.name, !name.isEmpty else { return "<\(address.address)>" }
        // A sender's name and address are the same for every message of a batch: encode them once.
        let key = MailboxKey(address: address.address, name: name, lineUsed: lineUsed)
        if let known = mailboxes.withLock({ $0[key] }) { return known }
        let encoded = encodeMailbox(name: name, address: address.address, lineUsed: lineUsed)
        mailboxes.withLock { cache in
            if cache.count >= 256 { cache.removeAll() }
            cache[key] = encoded
        }
        return encoded
    }

    private struct MailboxKey: Hashable {
        var address: String
        var name: String
        var lineUsed: Int
    }

    private static let mailboxes = Mutex<[MailboxKey: String]>([:])

    private static func encodeMailbox(name: String, address: String, lineUsed: Int) -> String {
        let address = MailAddress(address, name: name)
        if needsEncoding(name) {
            return phrase(name, lineUsed: lineUsed) + " <\(address.address)>"
        }
        if name.split(separator: " ", omittingEmptySubsequences: false).allSatisfy({ isAtom(String($0)) }) {
            return "\(name) <\(address.address)>"
        }
        let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\"\(quoted)\" <\(address.address)>"
    }

    /// A display name as atoms and encoded-words, folded so each line stays within the limit.
    static func phrase(_ name: String, lineUsed: Int) -> String {
        // Group words: runs of words needing encoding become one encoded run (spaces inside it).
        var pieces: [(text: String, encode: Bool)] = []
        for word in name.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let encode = !isAtom(word)
            if let last = pieces.last, last.encode && encode {
                pieces[pieces.count - 1].text += " " + word
            } else {
                pieces.append((word, encode))
            }
        }
        var output = ""
        var column = lineUsed
        for (index, piece) in pieces.enumerated() {
            let tokens = piece.encode ? encodedWords(piece.text, firstLineUsed: column + (index == 0 ? 0 : 1)) : [piece.text]
            for (tokenIndex, token) in tokens.enumerated() {
                let separator = index == 0 && tokenIndex == 0 ? "" : " "
                if !separator.isEmpty && column + 1 + token.count > lineLimit {
                    output += "\r\n " + token
                    column = 1 + token.count
                } else {
                    output += separator + token
                    column += separator.count + token.count
                }
            }
        }
        return output
    }

    /// RFC 5322 atext only (a word that may stand bare in a display name).
    private static func isAtom(_ word: String) -> Bool {
        !word.isEmpty && word.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
                || "!#$%&'*+-/=?^_`{|}~".unicodeScalars.contains(scalar))
        } && !word.contains("=?")
    }
}

/// An email address with an optional display name.
public struct MailAddress: Sendable, Hashable {
    /// Display name, any Unicode text.
    public var name: String?
    /// The address, `local@domain`.
    public var address: String

    /// Creates an address.
    public init(_ address: String, name: String? = nil) {
        self.address = address
        self.name = name
    }
}
