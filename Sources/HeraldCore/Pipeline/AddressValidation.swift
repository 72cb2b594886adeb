import Foundation

/// Checks and normalises recipient addresses per channel.
///
/// ```swift
/// AddressValidation.normalize("138 0013 8000", for: .sms)   // .success("+8613800138000")
/// AddressValidation.normalize("li@@example.com", for: .mail) // .failure(...)
/// ```
public enum AddressValidation {
    /// The address in the form transports use, or why it is not an address.
    public static func normalize(_ address: String, for channel: Channel) -> Result<String, StageFailure> {
        let trimmed = address.first == " " || address.last == " " ? address.trimmingCharacters(in: .whitespaces) : address
        switch channel {
        case .mail:
            if let problem = emailProblem(trimmed) {
                return .failure(StageFailure(.invalid, code: .invalidEmail, "email '\(address)' is not a valid address: \(problem)"))
            }
            return .success(trimmed)
        case .sms:
            guard let mobile = normalizeMobile(trimmed) else {
                return .failure(StageFailure(.invalid, code: .invalidMobile,
                    "mobile '\(address)' is not a valid number: use 11 digits starting 13-19 (optionally +86), or E.164 like +14155550123"))
            }
            return .success(mobile)
        case .site, .wechatMP, .wechatMini:
            if trimmed.isEmpty || trimmed.contains(where: { $0.isWhitespace }) {
                let what = channel == .site ? "user_id" : "openid"
                return .failure(StageFailure(.invalid, code: FailureCode("invalid_\(what)"), "\(what) '\(address)' must be non-empty without spaces"))
            }
            return .success(trimmed)
        case .wecom, .dingtalk, .feishu:
            // WeCom joins recipients with `|`, DingTalk with `,`, and `@all` is everyone: one row names one id.
            let allowed = trimmed.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "@")
            }
            // Feishu may take an email address as the id.
            guard allowed, (1...(channel == .feishu ? 254 : 64)).contains(trimmed.utf8.count), !trimmed.hasPrefix("@") else {
                let column = channel.addressColumn
                return .failure(StageFailure(.invalid, code: FailureCode("invalid_\(column)"),
                    "\(column) '\(address)' is not one id: letters, digits and _-.@, not starting with @ (no lists, no @all)"))
            }
            return .success(trimmed)
        }
    }

    /// Why `text` is not a practical RFC 5321 mailbox, or nil when it is one.
    public static func emailProblem(_ text: String) -> String? {
        if isPlainASCIIMailbox(text) { return nil }
        guard text.utf8.count <= 254 else { return "longer than 254 characters" }
        guard !text.contains(where: { $0.isWhitespace }) else { return "contains a space" }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return parts.count < 2 ? "no @" : "more than one @" }
        let local = parts[0], domain = parts[1]
        guard !local.isEmpty else { return "nothing before @" }
        guard local.utf8.count <= 64 else { return "local part longer than 64 characters" }
        guard !domain.isEmpty else { return "missing domain" }
        guard !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..") else {
            return "dots at the start, end or twice in a row before @"
        }
        let localAllowed = "!#$%&'*+-/=?^_`{|}~."
        guard local.unicodeScalars.allSatisfy({ isAlphanumeric($0) || localAllowed.unicodeScalars.contains($0) || $0.value > 0x7F }) else {
            return "a character that is not allowed before @"
        }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return "domain '\(domain)' has no dot" }
        for label in labels {
            guard !label.isEmpty else { return "consecutive or trailing dots in the domain" }
            guard label.utf8.count <= 63 else { return "a domain label longer than 63 characters" }
            guard !label.hasPrefix("-"), !label.hasSuffix("-"),
                  label.unicodeScalars.allSatisfy({ isAlphanumeric($0) || $0 == "-" || $0.value > 0x7F }) else {
                return "domain label '\(label)' has a character that is not allowed"
            }
        }
        return nil
    }

    /// Whether `text` is an ASCII mailbox that passes every rule of `emailProblem`, checked on
    /// bytes (the common case, cheap); anything else (a problem, or non-ASCII) gets the full check.
    static func isPlainASCIIMailbox(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes -> Bool in
            guard bytes.count <= 254, let at = bytes.firstIndex(of: UInt8(ascii: "@")) else { return false }
            let local = bytes[..<at], domain = bytes[(at + 1)...]
            guard !local.isEmpty, local.count <= 64, local.first != 0x2E, local.last != 0x2E else { return false }
            var previous: UInt8 = 0
            for byte in local {
                guard isASCIIAlphanumeric(byte) || localAllowedBytes.contains(byte) else { return false }
                if byte == 0x2E && previous == 0x2E { return false }
                previous = byte
            }
            var labels = 0, labelLength = 0
            previous = 0x2E
            for byte in domain {
                if byte == 0x2E {
                    guard labelLength > 0, previous != 0x2D else { return false }
                    labels += 1
                    labelLength = 0
                } else {
                    guard isASCIIAlphanumeric(byte) || (byte == 0x2D && labelLength > 0) else { return false }
                    labelLength += 1
                    guard labelLength <= 63 else { return false }
                }
                previous = byte
            }
            return labelLength > 0 && previous != 0x2D && labels >= 1
        }
    }

    private static let localAllowedBytes = Set("!#$%&'*+-/=?^_`{|}~.".utf8)

    private static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }

    /// `+86` + 11 digits for a Chinese mobile (`13800138000`, `+86 138-0013-8000`, `8613800138000`),
    /// or the number itself for E.164 (`+` then 8 to 15 digits, first not 0); nil otherwise.
    public static func normalizeMobile(_ text: String) -> String? {
        var digits: [UInt8] = []
        digits.reserveCapacity(16)
        var hasPlus = false
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte)
            case UInt8(ascii: " "), UInt8(ascii: "-"): continue
            case UInt8(ascii: "+") where index == 0: hasPlus = true
            default: return nil
            }
        }
        var national = digits[...]
        if national.count == 13, national.starts(with: [0x38, 0x36]) { national = national.dropFirst(2) }
        let chineseMobile = national.count == 11 && national.first == UInt8(ascii: "1")
            && (UInt8(ascii: "3")...UInt8(ascii: "9")).contains(national[national.startIndex + 1])
        if chineseMobile && (!hasPlus || digits.starts(with: [0x38, 0x36])) {
            return "+86" + String(decoding: national, as: UTF8.self)
        }
        // Mainland China (+86) mobiles have exactly 11 digits; anything else after +86 is a typo,
        // not some other E.164 number.
        if hasPlus && digits.starts(with: [0x38, 0x36]) { return nil }
        if hasPlus, (8...15).contains(digits.count), digits.first != UInt8(ascii: "0") {

            return "+" + String(decoding: digits, as: UTF8.self)
        }
        return nil
    }

    private static func isAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar)
    }
}
