import Foundation

/// Content-Transfer-Encodings for text bodies: every output line ends in CRLF and holds at
/// most 76 characters.
public enum BodyEncoding: String, Sendable, Hashable {
    case base64
    case quotedPrintable = "quoted-printable"

    /// Quoted-printable for mostly-ASCII text (readable in the raw message), base64 when more
    /// than a sixth of the bytes are non-ASCII (Chinese text is a third the size in base64).
    public static func choose(for text: String) -> BodyEncoding {
        let bytes = text.utf8
        let high = bytes.reduce(0) { $0 + ($1 >= 0x80 ? 1 : 0) }
        return high * 6 > bytes.count ? .base64 : .quotedPrintable
    }

    /// Encodes `text` after normalising its line breaks to CRLF.
    public func encode(_ text: String) -> String {
        let normalized = Self.crlf(text)
        switch self {
        case .base64: return Self.base64(Data(normalized.utf8))
        case .quotedPrintable: return Self.quotedPrintable(normalized)
        }
    }

    /// Line breaks (`\n`, `\r`, `\r\n`) as CRLF.
    static func crlf(_ text: String) -> String {
        var output = [UInt8]()
        output.reserveCapacity(text.utf8.count + 16)
        var previousCR = false
        for byte in text.utf8 {
            switch byte {
            case 0x0D:
                output += [0x0D, 0x0A]
                previousCR = true
            case 0x0A:
                if !previousCR { output += [0x0D, 0x0A] }
                previousCR = false
            default:
                output.append(byte)
                previousCR = false
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Base64 in lines of 76 characters.
    public static func base64(_ data: Data) -> String {
        data.base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
    }

    /// Quoted-printable per RFC 2045 §6.7 with soft breaks keeping lines ≤ 76 characters.
    static func quotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output = [UInt8]()
        let lines = text.components(separatedBy: "\r\n")
        for (lineIndex, line) in lines.enumerated() {
            let bytes = Array(line.utf8)
            var width = 0
            for (index, byte) in bytes.enumerated() {
                let isLast = index == bytes.count - 1
                var token: [UInt8]
                if (byte == 0x20 || byte == 0x09) && !isLast {
                    token = [byte]
                } else if byte >= 33 && byte <= 126 && byte != 61 {
                    token = [byte]
                } else {
                    token = [61, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
                }
                // A soft break needs one column for '='; the last token of a line may use column 76.
                let limit = isLast ? 76 : 75
                if width + token.count > limit {
                    output += [61, 13, 10]
                    width = 0
                }
                output += token
                width += token.count
            }
            if lineIndex < lines.count - 1 { output += [13, 10] }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
