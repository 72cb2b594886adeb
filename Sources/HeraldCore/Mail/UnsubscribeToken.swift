import Crypto
import Foundation

/// One-click unsubscribe (RFC 8058) without a lookup table: the token carries the address,
/// category and tenant and an HMAC-SHA256 of them under `mail.unsubscribe.secret`, so it cannot be
/// forged or enumerated, and `herald serve` needs nothing but the secret to honour it.
///
/// ```swift
/// let token = UnsubscribeToken.make(address: "li@example.com", category: .marketing, tenant: "0", secret: key)
/// UnsubscribeToken.verify(token, secret: key)   // ("li@example.com", .marketing, "0")
/// ```
public enum UnsubscribeToken {
    /// What a token says.
    public struct Claim: Sendable, Hashable {
        /// The mail address that opts out.
        public var address: String
        /// The category it opts out of.
        public var category: TemplateCategory
        /// The tenant the mail was sent for.
        public var tenant: String
    }

    /// The token for `address` opting out of `category` in `tenant`.
    public static func make(address: String, category: TemplateCategory, tenant: String, secret: String) -> String {
        let payload = base64URL(Data("\(address)\n\(category.rawValue)\n\(tenant)".utf8))
        return payload + "." + signature(payload, secret: secret)
    }

    /// What a genuine token says; nil for anything else (a changed byte, another secret, garbage).
    public static func verify(_ token: String, secret: String) -> Claim? {
        guard !secret.isEmpty, token.utf8.count <= 1024 else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = Data(hex: String(parts[1])), mac.count == 16 else { return nil }
        let payload = String(parts[0])
        let expected = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        // Constant time: the comparison does not stop at the first different byte.
        let given = [UInt8](mac), wanted = [UInt8](Data(expected).prefix(16))
        guard zip(given, wanted).reduce(UInt8(0), { $0 | ($1.0 ^ $1.1) }) == 0 else { return nil }
        guard let data = fromBase64URL(payload), let text = String(data: data, encoding: .utf8) else { return nil }
        let fields = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 3, let category = TemplateCategory(rawValue: fields[1]) else { return nil }
        return Claim(address: fields[0], category: category, tenant: fields[2])
    }

    private static func signature(_ payload: String, secret: String) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Hex.encode(Data(code).prefix(16))
    }

    private static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func fromBase64URL(_ text: String) -> Data? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base.count % 4 != 0 { base += "=" }
        return Data(base64Encoded: base)
    }
}

extension Data {
    /// Bytes from lowercase or uppercase hex; nil for anything else.
    init?(hex: String) {
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}

/// `mail.unsubscribe` in herald.yaml: where `herald serve` is reachable and the token secret.
public struct OneClickUnsubscribe: Sendable, Hashable {
    /// `https://notify.example.com` (no trailing slash).
    public var baseURL: String
    /// The HMAC secret, from the environment.
    public var secret: Secret

    /// Creates the setting.
    public init(baseURL: String, secret: Secret) {
        self.baseURL = baseURL
        self.secret = secret
    }

    /// A template's mail `unsubscribe: one-click` asks for the one-click link whatever its category.
    public static let templateValue = "one-click"

    /// The one-click URL for a mail to `address` of `category` in `tenant`.
    public func link(address: String, category: TemplateCategory, tenant: String) -> String {
        "\(baseURL)/v1/unsubscribe/\(UnsubscribeToken.make(address: address, category: category, tenant: tenant, secret: secret.value))"
    }
}
