import Foundation
import HeraldCore

/// Sends official-account template messages (`/cgi-bin/message/template/send`) and mini-program
/// subscribe messages (`/cgi-bin/message/subscribe/send`) for one WeChat app, with an access token
/// from the stable-token API cached in the workspace database (shared across runs and processes),
/// refreshed ahead of expiry and once, forced, on errcode 40001 / 40014 / 42001.
public final class WeChatTransport: Transport, Sendable {
    /// The name in logs.
    public let name = "wechat"
    /// How many messages it may have in flight at once.
    public let concurrency: Int
    private let app: WeChatApp
    private let base: String
    private let tokens: any AccessTokenStore
    private let clock: @Sendable () -> Date
    private let clients = HTTPClientPool()
    private let tokenGate = AsyncGate()

    /// Refresh this long before the token expires.
    static let refreshAhead: TimeInterval = 300
    /// Errcodes meaning the token is invalid or expired.
    static let tokenErrors: Set<Int> = [40001, 40014, 42001]
    /// Errcodes worth retrying later: system busy, frequency limit.
    static let transientErrors: Set<Int> = [-1, 45009, 45011]

    /// Creates the transport of `app` (which has `app_id` and `app_secret`).
    public init(app: WeChatApp, tokens: any AccessTokenStore, concurrency: Int = 4, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.app = app
        self.tokens = tokens
        self.concurrency = concurrency
        self.clock = clock
        var base = app.settings.endpoint ?? "https://api.weixin.qq.com"
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        guard let (path, body) = Self.body(envelope) else {
            return .permanent(code: "wrong_channel", "the wechat transport sends wechat_mp and wechat_mini messages")
        }
        var forced = false
        while true {
            let token: String
            switch await accessToken(force: forced) {
            case let .success(value): token = value
            case let .failure(failed): return failed.outcome
            }
            let url = "\(base)\(path)?access_token=\(token)"
            // The HTTP call blocks in libcurl, on the client pool's thread.
            guard let answer = await clients.run({ client in Self.outcome(of: client.post(url, headers: ["Content-Type": "application/json"], body: body)) }) else {
                return .transient(code: "curl_init", "libcurl could not create a handle")
            }
            if case .tokenRejected = answer, !forced {
                forced = true
                continue
            }
            return answer.outcome
        }
    }

    /// What one answer of WeChat means.
    enum Answer: Sendable {
        case done(DeliveryOutcome)
        case tokenRejected(DeliveryOutcome)

        var outcome: DeliveryOutcome {
            switch self {
            case let .done(outcome), let .tokenRejected(outcome): outcome
            }
        }
    }

    static func outcome(of response: HTTPResponse) -> Answer {
        if let failure = HTTPOutcome.failure(response) { return .done(failure) }
        guard let reply = HTTPOutcome.decoded(Reply.self, from: response), let errcode = reply.errcode else {
            return .done(.transient(code: "http_\(response.status)", "WeChat answered without errcode"))
        }
        let errmsg = reply.errmsg ?? ""
        if errcode == 0 { return .done(.sent(providerID: reply.msgid)) }
        let code = String(errcode)
        let outcome: DeliveryOutcome = transientErrors.contains(errcode) ? .transient(code: FailureCode(code), errmsg) : .permanent(code: FailureCode(code), errmsg)
        return tokenErrors.contains(errcode) ? .tokenRejected(outcome) : .done(outcome)
    }

    /// The JSON body WeChat documents for the message, and the path it is posted to.
    static func body(_ envelope: Envelope) -> (path: String, body: Data)? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        switch envelope.message.content {
        case let .wechatMP(message):
            let body = TemplateMessage(
                touser: envelope.address, template_id: message.templateID,
                data: Dictionary(message.data.map { ($0.key, Value(value: $0.value, color: $0.color)) }, uniquingKeysWith: { first, _ in first }),
                url: message.url.flatMap { $0.isEmpty ? nil : $0 },
                miniprogram: message.miniprogramAppID.map { MiniProgram(appid: $0, pagepath: message.miniprogramPage ?? "") },
                client_msg_id: envelope.id.value)
            return (try? encoder.encode(body)).map { ("/cgi-bin/message/template/send", $0) }
        case let .wechatMini(message):
            let body = SubscribeMessage(
                touser: envelope.address, template_id: message.templateID,
                data: Dictionary(message.data.map { ($0.key, Value(value: $0.value)) }, uniquingKeysWith: { first, _ in first }),
                miniprogram_state: message.miniprogramState ?? "formal", lang: message.lang ?? "zh_CN",
                page: message.page.flatMap { $0.isEmpty ? nil : $0 })
            return (try? encoder.encode(body)).map { ("/cgi-bin/message/subscribe/send", $0) }
        default:
            return nil
        }
    }

    // Field names as WeChat documents them.

    /// One data value (`color` only for template messages).
    struct Value: Encodable {
        var value: String
        var color: String?
    }

    /// A template message's mini program link.
    struct MiniProgram: Encodable {
        var appid: String
        var pagepath: String
    }

    /// `message/template/send`'s body.
    struct TemplateMessage: Encodable {
        var touser: String
        var template_id: String
        var data: [String: Value]
        var url: String?
        var miniprogram: MiniProgram?
        var client_msg_id: String
    }

    /// `message/subscribe/send`'s body.
    struct SubscribeMessage: Encodable {
        var touser: String
        var template_id: String
        var data: [String: Value]
        var miniprogram_state: String
        var lang: String
        var page: String?
    }

    /// `stable_token`'s body.
    struct TokenRequest: Encodable {
        var grant_type = "client_credential"
        var appid: String
        var secret: String
        var force_refresh: Bool
    }

    /// What WeChat answers: `errcode`/`errmsg`, a message's `msgid` (a number, or a string), or
    /// a token's `access_token`/`expires_in`.
    struct Reply: Decodable {
        var errcode: Int?
        var errmsg: String?
        var msgid: String?
        var accessToken: String?
        var expiresIn: Double?

        enum CodingKeys: String, CodingKey {
            case errcode, errmsg, msgid
            case accessToken = "access_token", expiresIn = "expires_in"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            errcode = try? container.decodeIfPresent(Int.self, forKey: .errcode)
            errmsg = try? container.decodeIfPresent(String.self, forKey: .errmsg)
            msgid = (try? container.decodeIfPresent(Int64.self, forKey: .msgid)).flatMap { $0.map(String.init) }
                ?? (try? container.decodeIfPresent(String.self, forKey: .msgid)) ?? nil
            accessToken = try? container.decodeIfPresent(String.self, forKey: .accessToken)
            expiresIn = try? container.decodeIfPresent(Double.self, forKey: .expiresIn)
        }
    }

    /// A token good for a while yet: from the shared store, or fetched (forced after a token
    /// error). One at a time per transport, so concurrent sends do not fetch a token each.
    private func accessToken(force: Bool) async -> Result<String, FailedFetch> {
        await tokenGate.run {
            let appID = app.appID ?? app.id
            let now = clock()
            if !force, let cached = try? await tokens.token(app: appID), cached.expiresAt.timeIntervalSince(now) > Self.refreshAhead {
                return .success(cached.token)
            }
            let body = HTTPOutcome.encoded(TokenRequest(appid: appID, secret: app.settings.appSecret?.value ?? "", force_refresh: force))
            let url = "\(base)/cgi-bin/stable_token"
            guard let fetched = await clients.run({ client in Self.token(from: client.post(url, headers: ["Content-Type": "application/json"], body: body)) }) else {
                return .failure(FailedFetch(outcome: .transient(code: "curl_init", "libcurl could not create a handle")))
            }
            guard case let .success((token, expires)) = fetched else { return fetched.map(\.token) }
            try? await tokens.save(AccessToken(token: token, expiresAt: now.addingTimeInterval(expires)), app: appID)
            return .success(token)
        }
    }

    /// The token and its lifetime in seconds from `stable_token`'s answer.
    static func token(from response: HTTPResponse) -> Result<(token: String, expires: Double), FailedFetch> {
        if let failure = HTTPOutcome.failure(response) { return .failure(FailedFetch(outcome: failure)) }
        let reply = HTTPOutcome.decoded(Reply.self, from: response)
        guard let token = reply?.accessToken, let expires = reply?.expiresIn else {
            let errcode = reply?.errcode ?? -1
            let message = "access token: \(reply?.errmsg ?? "no access_token in the answer")"
            return .failure(FailedFetch(outcome: transientErrors.contains(errcode) ? .transient(code: FailureCode(String(errcode)), message)
                                                                                 : .permanent(code: FailureCode(String(errcode)), message)))
        }
        return .success((token, expires))
    }
}

/// A token fetch that did not work, as the outcome of the send that needed it.
struct FailedFetch: Error, Sendable {
    var outcome: DeliveryOutcome
}
