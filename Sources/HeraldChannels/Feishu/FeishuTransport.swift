import Crypto
import Foundation
import HeraldCore

/// What a `feishu.apps` entry needs: a self-built app's `app_id` and `app_secret`, or a custom
/// bot's webhook `hook` token and, with 签名校验 on, its `secret`; secrets only from the
/// environment. `endpoint` overrides https://open.feishu.cn (https://open.larksuite.com for Lark).
public struct FeishuSettings: ProviderSettings, Hashable {
    /// The app's App ID (`cli_…`), for apps.
    public var appID: String?
    /// The app's App Secret, for apps.
    public var appSecret: Secret?
    /// The bot's hook token (the last part of its webhook URL), for bots.
    public var hook: Secret?
    /// The bot's signing secret, for bots that sign.
    public var secret: Secret?
    /// Base URL override.
    public var endpoint: String?

    /// Creates settings.
    public init(appID: String? = nil, appSecret: Secret? = nil, hook: Secret? = nil, secret: Secret? = nil, endpoint: String? = nil) {
        self.appID = appID
        self.appSecret = appSecret
        self.hook = hook
        self.secret = secret
        self.endpoint = endpoint
    }
}

/// Reads `transport: feishu` (`app_id`, `app_secret`) and `transport: feishu_robot` (`hook`, `secret`) apps.
public struct FeishuSettingsReader: ProviderSettingsReader {
    /// `feishu` or `feishuRobot`.
    public let kind: TransportKind

    /// The reader of `kind`.
    public init(_ kind: TransportKind) {
        self.kind = kind
    }

    public var keys: [String] { kind == .feishu ? ["app_id", "app_secret", "endpoint"] : ["hook", "secret", "endpoint"] }

    public func read(_ m: SettingsMapping) -> any ProviderSettings {
        if kind == .feishuRobot {
            return FeishuSettings(hook: m.secret("hook", missingHint: "add `hook: ${HERALD_FEISHU_HOOK}` (the last part of the bot's webhook URL)"),
                                  secret: m.secret("secret"), endpoint: m.text("endpoint"))
        }
        return FeishuSettings(appID: m.text("app_id", required: true),
                              appSecret: m.secret("app_secret", missingHint: "add `app_secret: ${HERALD_FEISHU_SECRET}`"),
                              endpoint: m.text("endpoint"))
    }
}

extension ChatApp {
    /// The Feishu credentials, as `FeishuSettingsReader` read them.
    public var feishuSettings: FeishuSettings { provider as? FeishuSettings ?? FeishuSettings() }
}

/// Feishu's custom-bot signature: the string `timestamp + "\n" + secret` is the HMAC-SHA256
/// **key** and the message is empty (the reverse of DingTalk), base64; `timestamp` in seconds.
///
/// ```swift
/// FeishuSignature.sign(timestamp: 1599360473, secret: "demo")   // "l1N0gAcBjdwBvGm1xMjOF0XSyaLRpR7tuO5dHfhAYc8="
/// ```
public enum FeishuSignature {
    /// The `sign` field of the body.
    public static func sign(timestamp: Int64, secret: String) -> String {
        let key = SymmetricKey(data: Data("\(timestamp)\n\(secret)".utf8))
        return Data(HMAC<SHA256>.authenticationCode(for: Data(), using: key)).base64EncodedString()
    }
}

/// Sends 飞书 messages for one `feishu.apps` entry: app bot messages (`im/v1/messages`, to an
/// open_id, user_id, union_id, email or chat_id as the template's `id_type` says) with the app's
/// tenant_access_token (cached and shared like WeCom's, renewed by its `expire`), or a custom
/// bot's messages (`bot/v2/hook/…`, signed when it has a secret). `text` goes as text; `markdown`
/// as a card with a markdown element (and the title as its header).
///
/// Feishu answers with a `code`: 99991663/99991664/99991671 (token) are fetched again once;
/// 230020, 11232, 99991400 and HTTP 429 are retried after a minute; 10003, 99991672, 230006,
/// 19001, 19021 and 19022 stop the account; the rest fail the message with Feishu's code.
public final class FeishuTransport: Transport, Sendable {
    /// The name in logs.
    public var name: String { robot ? "feishu_robot" : "feishu" }
    /// How many messages it may have in flight at once.
    public let concurrency: Int
    private let settings: FeishuSettings
    private let robot: Bool
    private let base: String
    private let clock: @Sendable () -> Date
    private let clients = HTTPClientPool()
    private let cache: AccessTokenCache

    /// The token was refused.
    static let tokenErrors: Set<Int> = [99991663, 99991664, 99991671]
    /// Frequency limits: retried after a minute.
    static let rateErrors: Set<Int> = [230020, 11232, 99991400]
    /// The app's or bot's credentials, scope or IP are refused.
    static let accountErrors: Set<Int> = [10003, 10014, 99991672, 230006, 19001, 19021, 19022]

    /// Creates the transport of `app`.
    public init(app: ChatApp, tokens: any AccessTokenStore, concurrency: Int = 4, clock: @escaping @Sendable () -> Date = { Date() }) {
        settings = app.feishuSettings
        robot = app.transport == .feishuRobot
        self.concurrency = robot ? 1 : concurrency
        self.clock = clock
        cache = AccessTokenCache(store: tokens, name: "feishu:\(app.feishuSettings.appID ?? app.id)", clock: clock)
        var base = app.feishuSettings.endpoint ?? "https://open.feishu.cn"
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        guard case let .feishu(message) = envelope.message.content else {
            return .permanent(code: "wrong_channel", "the feishu transport sends feishu messages")
        }
        let headers = ["Content-Type": "application/json; charset=utf-8"]
        if robot {
            var body = Self.botBody(message)
            if let secret = settings.secret?.value, !secret.isEmpty {
                let timestamp = Int64(clock().timeIntervalSince1970.rounded(.down))
                body.timestamp = String(timestamp)
                body.sign = FeishuSignature.sign(timestamp: timestamp, secret: secret)
            }
            let url = "\(base)/open-apis/bot/v2/hook/\(HTTPOutcome.query(settings.hook?.value ?? ""))"
            let data = HTTPOutcome.encoded(body)
            return await clients.run({ client in Self.outcome(of: client.post(url, headers: headers, body: data)).outcome })
                ?? .transient(code: "curl_init", "libcurl could not create a handle")
        }
        // The message id as uuid: Feishu sends one message per uuid within an hour, so a retry is not a second message.
        let data = HTTPOutcome.encoded(Self.appBody(message, address: envelope.address, uuid: envelope.id.value))
        let url = "\(base)/open-apis/im/v1/messages?receive_id_type=\(message.idType ?? "open_id")"
        let clients = clients
        return await cache.send(fetch: tokenFetch()) { token in
            let authorized = headers.merging(["Authorization": "Bearer \(token)"]) { _, new in new }
            return await clients.run { client in Self.outcome(of: client.post(url, headers: authorized, body: data)) }
        }
    }

    /// How the app's tenant_access_token is fetched (by App ID and App Secret).
    private func tokenFetch() -> @Sendable () async -> Result<(String, Double), FailedFetch> {
        let url = "\(base)/open-apis/auth/v3/tenant_access_token/internal"
        let body = HTTPOutcome.encoded(["app_id": settings.appID ?? "", "app_secret": settings.appSecret?.value ?? ""])
        let clients = clients
        return {
            guard let response = await clients.run({ client in client.post(url, headers: ["Content-Type": "application/json; charset=utf-8"], body: body) }) else {
                return .failure(FailedFetch(outcome: .transient(code: "curl_init", "libcurl could not create a handle")))
            }
            if let failure = HTTPOutcome.failure(response) { return .failure(FailedFetch(outcome: failure)) }
            let reply = HTTPOutcome.decoded(Reply.self, from: response)
            guard reply?.code == 0, let token = reply?.tenantAccessToken, let expire = reply?.expire else {
                let code = reply?.code ?? -1
                var outcome = DeliveryOutcome.transient(code: FailureCode(String(code)), "tenant_access_token: \(reply?.msg ?? "no token in the answer")")
                outcome.stopsAccount = Self.accountErrors.contains(code)
                return .failure(FailedFetch(outcome: outcome))
            }
            // `expire` is what is left of the token's life (a fresh fetch may get as little as 30 minutes).
            return .success((token, expire))
        }
    }

    static func outcome(of response: HTTPResponse) -> TokenAnswer {
        let reply = HTTPOutcome.decoded(Reply.self, from: response)
        // A 429 carries the frequency code; anything else not JSON (a 404 page, a 5xx) is HTTP's.
        guard let reply, let code = reply.code ?? reply.statusCode else {
            if let failure = HTTPOutcome.failure(response) { return TokenAnswer(outcome: failure) }
            return TokenAnswer(outcome: .transient(code: "http_\(response.status)", "Feishu answered without a code: \(String(decoding: response.body.prefix(200), as: UTF8.self))"))
        }
        let message = reply.msg ?? reply.statusMessage ?? ""
        if code == 0 { return TokenAnswer(outcome: .sent(providerID: reply.data?.messageID)) }
        let failureCode = FailureCode(String(code))
        if tokenErrors.contains(code) { return TokenAnswer(outcome: .transient(code: failureCode, message), tokenRejected: true) }
        if rateErrors.contains(code) || response.status == 429 {
            var outcome = DeliveryOutcome.transient(code: failureCode, message)
            outcome.retryAfter = .seconds(60)
            return TokenAnswer(outcome: outcome)
        }
        if accountErrors.contains(code) {
            var outcome = DeliveryOutcome.transient(code: failureCode, message)
            outcome.stopsAccount = true
            return TokenAnswer(outcome: outcome)
        }
        if response.status >= 500 { return TokenAnswer(outcome: .transient(code: failureCode, message)) }
        return TokenAnswer(outcome: .permanent(code: failureCode, message))
    }

    // Bodies as Feishu documents them: an app message's `content` is a JSON *string*; a bot's an object.

    struct TextContent: Encodable { var text: String }
    struct PlainText: Encodable { var tag = "plain_text"; var content: String }
    struct Header: Encodable { var title: PlainText; var template = "blue" }
    struct Element: Encodable { var tag = "markdown"; var content: String }
    struct Body: Encodable { var elements: [Element] }
    struct Card: Encodable { var schema = "2.0"; var header: Header?; var body: Body }

    /// `im/v1/messages`'s body.
    struct AppMessage: Encodable {
        var receive_id: String
        var msg_type: String
        var content: String
        var uuid: String
    }

    /// A custom bot's body.
    struct BotMessage: Encodable {
        var timestamp: String?
        var sign: String?
        var msg_type: String
        var content: TextContent?
        var card: Card?
    }

    static func card(_ message: RenderedChat) -> Card {
        Card(header: message.title.map { Header(title: PlainText(content: $0)) }, body: Body(elements: [Element(content: message.content ?? "")]))
    }

    static func appBody(_ message: RenderedChat, address: String, uuid: String) -> AppMessage {
        let markdown = message.type == .markdown
        let content = markdown ? HTTPOutcome.encoded(card(message)) : HTTPOutcome.encoded(TextContent(text: message.content ?? message.readable))
        return AppMessage(receive_id: address, msg_type: markdown ? "interactive" : "text", content: String(decoding: content, as: UTF8.self),
                          uuid: uuid)
    }

    static func botBody(_ message: RenderedChat) -> BotMessage {
        message.type == .markdown
            ? BotMessage(msg_type: "interactive", card: card(message))
            : BotMessage(msg_type: "text", content: TextContent(text: message.content ?? message.readable))
    }

    /// What Feishu answers: `code`/`msg` (bots also `StatusCode`/`StatusMessage`), a message's
    /// `data.message_id`, or a token's `tenant_access_token` and `expire`.
    struct Reply: Decodable {
        struct Sent: Decodable {
            var messageID: String?
            enum CodingKeys: String, CodingKey { case messageID = "message_id" }
        }

        var code: Int?
        var msg: String?
        var statusCode: Int?
        var statusMessage: String?
        var data: Sent?
        var tenantAccessToken: String?
        var expire: Double?

        enum CodingKeys: String, CodingKey {
            case code, msg, data, expire
            case statusCode = "StatusCode", statusMessage = "StatusMessage", tenantAccessToken = "tenant_access_token"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            code = try? container.decodeIfPresent(Int.self, forKey: .code)
            msg = try? container.decodeIfPresent(String.self, forKey: .msg)
            statusCode = try? container.decodeIfPresent(Int.self, forKey: .statusCode)
            statusMessage = try? container.decodeIfPresent(String.self, forKey: .statusMessage)
            data = try? container.decodeIfPresent(Sent.self, forKey: .data)
            tenantAccessToken = try? container.decodeIfPresent(String.self, forKey: .tenantAccessToken)
            expire = try? container.decodeIfPresent(Double.self, forKey: .expire)
        }
    }
}
