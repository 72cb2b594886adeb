/// How long an SMS is on the wire and how many billed parts it takes.
///
/// Text that fits the GSM 03.38 alphabet is GSM-7: 160 characters in one message, 153 per part
/// when concatenated (extension characters such as `€ [ ] { }` count twice). Anything else —
/// every Chinese text — is UCS-2: 70 UTF-16 units in one message, 67 per part. Chinese
/// providers count the `【签名】` signature, so measure the signed text.
///
/// ```swift
/// SMSLength.measure("【商城】您的验证码是1234").segments   // 1
/// ```
public struct SMSLength: Sendable, Hashable, CustomStringConvertible {
    /// The alphabet the text needs.
    public enum Encoding: String, Sendable, Hashable {
        case gsm7 = "GSM-7"
        case ucs2 = "UCS-2"
    }

    /// GSM-7 or UCS-2.
    public var encoding: Encoding
    /// Length in the encoding's units: septets for GSM-7, UTF-16 code units for UCS-2.
    public var units: Int
    /// Billed parts.
    public var segments: Int

    /// Measures `text`.
    public static func measure(_ text: String) -> SMSLength {
        var septets = 0
        var isGSM = true
        for scalar in text.unicodeScalars {
            if gsmBasic.contains(scalar) {
                septets += 1
            } else if gsmExtension.contains(scalar) {
                septets += 2
            } else {
                isGSM = false
                break
            }
        }
        if isGSM {
            return SMSLength(encoding: .gsm7, units: septets, segments: parts(septets, single: 160, part: 153))
        }
        let units = text.utf16.count
        return SMSLength(encoding: .ucs2, units: units, segments: parts(units, single: 70, part: 67))
    }

    private static func parts(_ units: Int, single: Int, part: Int) -> Int {
        units <= single ? 1 : (units + part - 1) / part
    }

    public var description: String {
        "\(units) characters, \(encoding.rawValue), \(segments) \(segments == 1 ? "part" : "parts")"
    }

    private static let gsmBasic: Set<Unicode.Scalar> = Set(
        ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà").unicodeScalars)
    private static let gsmExtension: Set<Unicode.Scalar> = Set("^{}\\[~]|€\u{0C}".unicodeScalars)

    /// Creates a value from its parts.
    public init(encoding: Encoding, units: Int, segments: Int) {
        self.encoding = encoding
        self.units = units
        self.segments = segments
    }
}
