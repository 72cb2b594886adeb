import Crypto
import Foundation
import HeraldCore

/// Aliyun's V3 request signature, `ACS3-HMAC-SHA256`
/// (help.aliyun.com, "请求体和签名机制 / V3版本请求体&签名机制").
///
/// ```swift
/// let signed = AliyunSignatureV3.sign(method: "POST", path: "/", query: ["PhoneNumbers": "13800138000"],
///     host: "dysmsapi.aliyuncs.com", action: "SendSms", version: "2017-05-25", body: Data(),
///     date: "2023-10-26T10:22:32Z", nonce: "…", accessKeyID: id, accessKeySecret: secret)
/// signed.headers["Authorization"]
/// ```
public enum AliyunSignatureV3 {
    /// The signed request's headers, and the intermediate values (for tests and debugging).
    public struct Signed: Sendable, Hashable {
        /// The headers to send, the signature included.
        public var headers: [String: String]
        /// The canonical request, as the provider's documentation builds it.
        public var canonicalRequest: String
        /// Its SHA-256, hex.
        public var hashedCanonicalRequest: String
        /// The signature, hex.
        public var signature: String
        /// The query string to put on the URL, encoded as signed.
        public var queryString: String
    }

    /// Signs a request. `extraHeaders` (e.g. `content-type`) are sent and signed too.
    public static func sign(method: String, path: String = "/", query: [String: String], host: String, action: String,
                            version: String, body: Data, date: String, nonce: String, accessKeyID: String,
                            accessKeySecret: String, extraHeaders: [String: String] = [:]) -> Signed {
        let bodyHash = Digests.sha256(body)
        var headers: [String: String] = [
            "host": host, "x-acs-action": action, "x-acs-version": version, "x-acs-date": date,
            "x-acs-signature-nonce": nonce, "x-acs-content-sha256": bodyHash,
        ]
        for (name, value) in extraHeaders { headers[name.lowercased()] = value }
        let signedNames = headers.keys.filter { $0 == "host" || $0 == "content-type" || $0.hasPrefix("x-acs-") }.sorted()
        let canonicalHeaders = signedNames.map { "\($0):\(headers[$0, default: ""].trimmingCharacters(in: .whitespaces))\n" }.joined()
        let signedHeaders = signedNames.joined(separator: ";")
        let queryString = query.map { (percentEncode($0.key), percentEncode($0.value)) }
            .sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let canonicalRequest = [method, path, queryString, canonicalHeaders, signedHeaders, bodyHash].joined(separator: "\n")
        let hashed = Digests.sha256(Data(canonicalRequest.utf8))
        let stringToSign = "ACS3-HMAC-SHA256\n\(hashed)"
        let signature = Digests.hmacSHA256(key: Data(accessKeySecret.utf8), message: Data(stringToSign.utf8))
        headers["Authorization"] = "ACS3-HMAC-SHA256 Credential=\(accessKeyID),SignedHeaders=\(signedHeaders),Signature=\(signature)"
        return Signed(headers: headers, canonicalRequest: canonicalRequest, hashedCanonicalRequest: hashed, signature: signature,
                      queryString: queryString)
    }

    /// RFC 3986 percent-encoding: `A-Za-z0-9-_.~` kept, everything else `%XX` (space is `%20`).
    public static func percentEncode(_ text: String) -> String {
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                output += String(format: "%%%02X", byte)
            }
        }
        return output
    }
}

/// Tencent Cloud's API 3.0 signature, `TC3-HMAC-SHA256`
/// (cloud.tencent.com/document/api/382/52072, "签名方法 v3").
public enum TencentSignatureV3 {
    /// The Authorization header and the intermediate values.
    public struct Signed: Sendable, Hashable {
        /// The `Authorization` header.
        public var authorization: String
        /// The canonical request, as the provider's documentation builds it.
        public var canonicalRequest: String
        /// Its SHA-256, hex.
        public var hashedCanonicalRequest: String
        /// The signature, hex.
        public var signature: String
    }

    /// Signs a POST of `body` with `content-type` and `host` signed (names and values lowercased).
    public static func sign(service: String, host: String, contentType: String = "application/json; charset=utf-8",
                            body: Data, timestamp: Int, secretID: String, secretKey: String) -> Signed {
        let canonicalHeaders = "content-type:\(contentType.lowercased())\nhost:\(host.lowercased())\n"
        let signedHeaders = "content-type;host"
        let canonicalRequest = ["POST", "/", "", canonicalHeaders, signedHeaders, Digests.sha256(body)].joined(separator: "\n")
        let hashed = Digests.sha256(Data(canonicalRequest.utf8))
        let date = utcDate(timestamp)
        let scope = "\(date)/\(service)/tc3_request"
        let stringToSign = "TC3-HMAC-SHA256\n\(timestamp)\n\(scope)\n\(hashed)"
        let dateKey = hmac(Data("TC3\(secretKey)".utf8), date)
        let serviceKey = hmac(dateKey, service)
        let signingKey = hmac(serviceKey, "tc3_request")
        let signature = Digests.hmacSHA256(key: signingKey, message: Data(stringToSign.utf8))
        let authorization = "TC3-HMAC-SHA256 Credential=\(secretID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signed(authorization: authorization, canonicalRequest: canonicalRequest, hashedCanonicalRequest: hashed, signature: signature)
    }

    /// `2019-02-25` for a Unix timestamp, in UTC.
    public static func utcDate(_ timestamp: Int) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(timestamp)))
    }

    private static func hmac(_ key: Data, _ message: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(message.utf8), using: SymmetricKey(data: key)))
    }
}

/// SHA-256 and HMAC-SHA256 as lowercase hex, as the providers' signatures want them.
enum Digests {
    static func sha256(_ data: Data) -> String {
        Hex.encode(SHA256.hash(data: data))
    }

    static func hmacSHA256(key: Data, message: Data) -> String {
        Hex.encode(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }
}
