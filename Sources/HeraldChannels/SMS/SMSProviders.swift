import Foundation
import HeraldCore

/// One SMS provider account: turns a rendered SMS into the provider's request and its answer
/// into an outcome. Blocking; the router calls it off the Swift concurrency threads.
protocol SMSProvider: Sendable {
    /// The channel id in herald.yaml.
    var id: String { get }
    /// Transport name in the log (`aliyun`, `tencent`, `webhook`).
    var name: String { get }
    func send(_ sms: RenderedSMS, to mobile: String, messageID: String, client: HTTPClient) -> DeliveryOutcome
}

/// Maps what an HTTP exchange did before the provider's own answer is read.
enum HTTPOutcome {
    /// A transport-level failure or a status that is not the provider's answer (429, 5xx): transient.
    static func failure(_ response: HTTPResponse) -> DeliveryOutcome? {
        if response.curlCode != 0 { return .transient(code: "curl_\(response.curlCode)", response.error) }
        if response.status == 429 || response.status >= 500 {
            return .transient(code: "http_\(response.status)", String(decoding: response.body.prefix(300), as: UTF8.self))
        }
        return nil
    }

    /// The provider's answer decoded as `T`, or nil when the body is not that JSON.
    static func decoded<T: Decodable>(_ type: T.Type, from response: HTTPResponse) -> T? {
        try? JSONDecoder().decode(type, from: response.body)
    }

    /// `value` for a URL query or path segment: everything but letters, digits and `-._~`
    /// percent-encoded (tokens and keys go into URLs this way).
    static func query(_ value: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// `value` as JSON with sorted keys (the bytes a request body is signed over).
    static func encoded(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}

/// Aliyun Dysmsapi `SendSms` (2017-05-25), signed with ACS3-HMAC-SHA256; parameters in the query
/// string, empty POST body; `TemplateParam` is the named parameters as JSON; `OutId` is Herald's id.
struct AliyunSMSProvider: SMSProvider {
    let id: String
    let name = "aliyun"
    let signature: String
    let keyID: String
    let secret: String
    let endpoint: URL
    let clock: @Sendable () -> Date

    /// Aliyun codes worth retrying; every other error code is permanent.
    static let transientCodes: Set<String> = ["isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User", "Throttling.Api",
                                             "ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR", "isp.RAM_PERMISSION_DENY_TEMP"]

    func send(_ sms: RenderedSMS, to mobile: String, messageID: String, client: HTTPClient) -> DeliveryOutcome {
        let parameters = Dictionary(sms.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        let templateParam = String(decoding: HTTPOutcome.encoded(parameters), as: UTF8.self)
        let query = ["PhoneNumbers": Self.aliyunNumber(mobile), "SignName": signature, "TemplateCode": sms.apiTemplateID,
                     "TemplateParam": templateParam, "OutId": messageID]
        let host = endpoint.host ?? "dysmsapi.aliyuncs.com"
        let nonce = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let date = Timestamp.iso8601(clock(), timeZone: TimeZone(identifier: "UTC") ?? .current).prefix(19) + "Z"
        let signed = AliyunSignatureV3.sign(method: "POST", path: "/", query: query, host: host, action: "SendSms",
                                            version: "2017-05-25", body: Data(), date: String(date), nonce: nonce,
                                            accessKeyID: keyID, accessKeySecret: secret)
        var base = endpoint.absoluteString
        if !base.hasSuffix("/") { base += "/" }
        let response = client.post(base + "?" + signed.queryString, headers: signed.headers, body: Data())
        if let failure = HTTPOutcome.failure(response) { return failure }
        guard let answer = HTTPOutcome.decoded(Answer.self, from: response), let code = answer.code else {
            return .transient(code: "http_\(response.status)", "Aliyun answered without a Code: \(String(decoding: response.body.prefix(200), as: UTF8.self))")
        }
        let message = answer.message ?? code
        if code == "OK" { return .sent(providerID: answer.bizID) }
        return Self.transientCodes.contains(code) ? .transient(code: FailureCode(code), message) : .permanent(code: FailureCode(code), message)
    }

    /// SendSms's answer: `{"Code": "OK", "Message": "OK", "BizId": "…", "RequestId": "…"}`.
    struct Answer: Decodable {
        var code: String?
        var message: String?
        var bizID: String?

        enum CodingKeys: String, CodingKey {
            case code = "Code", message = "Message", bizID = "BizId"
        }
    }

    /// Aliyun takes mainland numbers without `+86`, others with their country code and no `+`.
    static func aliyunNumber(_ mobile: String) -> String {
        mobile.hasPrefix("+86") ? String(mobile.dropFirst(3)) : mobile.hasPrefix("+") ? String(mobile.dropFirst()) : mobile
    }
}

/// Tencent Cloud SMS `SendSms` (2021-01-11), signed with TC3-HMAC-SHA256; positional
/// `TemplateParamSet` in the order the content uses the parameters; `SessionContext` is Herald's id.
struct TencentSMSProvider: SMSProvider {
    let id: String
    let name = "tencent"
    let signature: String
    let secretID: String
    let secretKey: String
    let sdkAppID: String
    let region: String
    let endpoint: URL
    let clock: @Sendable () -> Date

    static func isTransient(_ code: String) -> Bool {
        code.hasPrefix("LimitExceeded") || code.hasPrefix("InternalError") || code == "RequestLimitExceeded"
            || code == "FailedOperation.SignatureIncorrectOrUnapproved.Busy" || code.hasPrefix("ResourceUnavailable")
    }

    func send(_ sms: RenderedSMS, to mobile: String, messageID: String, client: HTTPClient) -> DeliveryOutcome {
        let body = HTTPOutcome.encoded(Request(PhoneNumberSet: [mobile], SmsSdkAppId: sdkAppID, SignName: signature,
                                               TemplateId: sms.apiTemplateID, TemplateParamSet: sms.parameters.map(\.value),
                                               SessionContext: messageID))
        let host = endpoint.host ?? "sms.tencentcloudapi.com"
        let timestamp = Int(clock().timeIntervalSince1970)
        let signed = TencentSignatureV3.sign(service: "sms", host: host, body: body, timestamp: timestamp,
                                             secretID: secretID, secretKey: secretKey)
        let headers = ["Authorization": signed.authorization, "Content-Type": "application/json; charset=utf-8", "Host": host,
                       "X-TC-Action": "SendSms", "X-TC-Version": "2021-01-11", "X-TC-Timestamp": String(timestamp), "X-TC-Region": region]
        let response = client.post(endpoint.absoluteString, headers: headers, body: body)
        if let failure = HTTPOutcome.failure(response) { return failure }
        guard let answer = HTTPOutcome.decoded(Answer.self, from: response)?.Response else {
            return .transient(code: "http_\(response.status)", "Tencent answered without a Response")
        }
        if let error = answer.Error, let code = error.Code {
            let message = error.Message ?? code
            return Self.isTransient(code) ? .transient(code: FailureCode(code), message) : .permanent(code: FailureCode(code), message)
        }
        guard let status = answer.SendStatusSet?.first, let code = status.Code else {
            return .transient(code: "tencent_no_status", "Tencent answered without SendStatusSet")
        }
        let message = status.Message ?? code
        if code == "Ok" { return .sent(providerID: status.SerialNo) }
        return Self.isTransient(code) ? .transient(code: FailureCode(code), message) : .permanent(code: FailureCode(code), message)
    }

    // Field names as Tencent Cloud writes them (API 3.0 is PascalCase).

    /// SendSms's request body.
    struct Request: Encodable {
        var PhoneNumberSet: [String]
        var SmsSdkAppId: String
        var SignName: String
        var TemplateId: String
        var TemplateParamSet: [String]
        var SessionContext: String
    }

    /// SendSms's answer: `{"Response": {"SendStatusSet": [{"Code": "Ok", …}]}}` or `{"Response": {"Error": {…}}}`.
    struct Answer: Decodable {
        struct Body: Decodable {
            var Error: Failure?
            var SendStatusSet: [Status]?
        }
        struct Failure: Decodable {
            var Code: String?
            var Message: String?
        }
        struct Status: Decodable {
            var Code: String?
            var Message: String?
            var SerialNo: String?
        }

        var Response: Body?
    }
}

/// The operator's own gateway: `POST url` with the rendered SMS as JSON and
/// `X-Herald-Signature: hex(HMAC-SHA256(secret, timestamp + "." + body))`, `X-Herald-Timestamp`.
/// 2xx is sent (`{"id": …}` kept as the provider id), 429 and 5xx transient, other 4xx permanent.
struct WebhookSMSProvider: SMSProvider {
    let id: String
    let name = "webhook"
    let signature: String?
    let url: String
    let secret: String
    let clock: @Sendable () -> Date

    func send(_ sms: RenderedSMS, to mobile: String, messageID: String, client: HTTPClient) -> DeliveryOutcome {
        let body = HTTPOutcome.encoded(Payload(
            message_id: messageID, to: mobile, text: sms.signedText, signature: signature ?? "", template_id: sms.apiTemplateID,
            params: Dictionary(sms.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }), parts: sms.length.segments))
        let timestamp = String(Int(clock().timeIntervalSince1970))
        let signature = Digests.hmacSHA256(key: Data(secret.utf8), message: Data((timestamp + ".").utf8) + body)
        let headers = ["Content-Type": "application/json; charset=utf-8", "X-Herald-Timestamp": timestamp,
                       "X-Herald-Signature": signature]
        let response = client.post(url, headers: headers, body: body)
        if let failure = HTTPOutcome.failure(response) { return failure }
        if (200..<300).contains(response.status) {
            return .sent(providerID: HTTPOutcome.decoded(Answer.self, from: response)?.id)
        }
        let text = String(decoding: response.body.prefix(300), as: UTF8.self)
        return .permanent(code: "http_\(response.status)", text)
    }

    /// The body posted to the gateway (the documented webhook contract's field names).
    struct Payload: Encodable {
        var message_id: String
        var to: String
        var text: String
        var signature: String
        var template_id: String
        var params: [String: String]
        var parts: Int
    }

    /// The gateway's answer; `id` is kept as the provider id.
    struct Answer: Decodable {
        var id: String?
    }
}

/// The transport of every SMS channel: sends through the first channel the template names and,
/// on a transient failure, the next one (failover) before the message is deferred; a permanent
/// failure stops there. Each send runs off the Swift concurrency threads with its own HTTP handle.
public final class SMSRouter: Transport, Sendable {
    /// The name in logs.
    public let name = "sms"
    /// How many messages it may have in flight at once.
    public let concurrency: Int
    private let providers: [String: any SMSProvider]
    private let local: [String: any Transport]
    private let clients = HTTPClientPool()

    /// Builds providers for every SMS channel of `configuration`; `file` and `discard` channels
    /// go to `local` transports.
    public init(configuration: Configuration, local: [String: any Transport], clock: @escaping @Sendable () -> Date = { Date() }) {
        concurrency = configuration.concurrency
        self.local = local
        var providers: [String: any SMSProvider] = [:]
        for (id, channel) in configuration.smsChannels {
            guard let settings = channel.providerSettings else { continue }
            switch channel.transport {
            case .aliyun:
                providers[id] = AliyunSMSProvider(id: id, signature: channel.signature ?? "", keyID: settings.keyID ?? "",
                                                  secret: settings.secret?.value ?? "",
                                                  endpoint: URL(string: settings.endpoint ?? "https://dysmsapi.aliyuncs.com/") ?? URL(fileURLWithPath: "/"),
                                                  clock: clock)
            case .tencent:
                providers[id] = TencentSMSProvider(id: id, signature: channel.signature ?? "", secretID: settings.keyID ?? "",
                                                   secretKey: settings.secret?.value ?? "", sdkAppID: settings.sdkAppID ?? "",
                                                   region: settings.region,
                                                   endpoint: URL(string: settings.endpoint ?? "https://sms.tencentcloudapi.com/") ?? URL(fileURLWithPath: "/"),
                                                   clock: clock)
            case .webhook:
                providers[id] = WebhookSMSProvider(id: id, signature: channel.signature, url: settings.url ?? "",
                                                   secret: settings.secret?.value ?? "", clock: clock)
            default:
                continue
            }
        }
        self.providers = providers
    }

    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        guard case let .sms(sms) = envelope.message.content else {
            return .permanent(code: "wrong_channel", "the sms transport sends sms only")
        }
        var failures: [String] = []
        var last: DeliveryOutcome = .transient(code: "no_channel", "no SMS channel to send through")
        for channelID in sms.channels {
            var outcome: DeliveryOutcome
            if let provider = providers[channelID] {
                outcome = await clients.run { client in provider.send(sms, to: envelope.address, messageID: envelope.id.value, client: client) }
                    ?? .transient(code: "curl_init", "libcurl could not create a handle")
            } else if let transport = local[channelID] {
                outcome = await transport.send(envelope)
            } else {
                outcome = .permanent(code: "no_transport", "sms channel '\(channelID)' is not in herald.yaml")
            }
            switch outcome.kind {
            case .sent:
                if !failures.isEmpty { outcome.message = "sent through \(channelID) after " + failures.joined(separator: "; ") }
                outcome.providerID = outcome.providerID.map { "\(channelID):\($0)" }
                return outcome
            case .permanent:
                outcome.message = "\(channelID): \(outcome.message ?? "")"
                return outcome
            case .transient:
                failures.append("\(channelID) \(outcome.code ?? ""): \(outcome.message ?? "")")
                last = outcome
            }
        }
        last.message = failures.joined(separator: "; ")
        return last
    }
}
