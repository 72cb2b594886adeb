import Crypto
import Foundation
import HeraldCore

/// What a `dingtalk.apps` entry needs: an app's `app_key`, `app_secret` and `agent_id`, or a
/// custom robot's `access_token` and, with 加签 on, its `secret` (`SEC…`); secrets only from the
/// environment. `endpoint` overrides https://oapi.dingtalk.com (tests).
public struct DingTalkSettings: ProviderSettings, Hashable {
    /// The app's AppKey (Client ID), for apps.
    public var appKey: String?
    /// The app's AppSecret, for apps.
    public var appSecret: Secret?
    /// The app's AgentId, for apps.
    public var agentID: Int?
    /// The robot's access_token, for robots.
    public var accessToken: Secret?
    /// The robot's 加签 secret (`SEC…`), for robots that sign.
    public var secret: Secret?
    /// Base URL override.
    public var endpoint: String?

    /// Creates settings.
    public init(appKey: String? = nil, appSecret: Secret? = nil, agentID: Int? = nil, accessToken: Secret? = nil,
                secret: Secret? = nil, endpoint: String? = nil) {
        self.appKey = appKey
        self.appSecret = appSecret
        self.agentID = agentID
        self.accessToken = accessToken
        self.secret = secret
        self.endpoint = endpoint
    }
}

/// Reads `transport: dingtalk` (`app_key`, `app_secret`, `agent_id`) and `transport:
/// dingtalk_robot` (`access_token`, `secret`) apps.
public struct DingTalkSettingsReader: ProviderSettingsReader {
    /// `dingtalk` or `dingtalkRobot`.
    public let kind: TransportKind

    /// The reader of `kind`.
    public init(_ kind: TransportKind) {
        self.kind = kind
    }

    public var keys: [String] {
        kind == .dingtalk ? ["app_key", "app_secret", "agent_id", "endpoint"] : ["access_token", "secret", "endpoint"]
    }

    public func read(_ m: SettingsMapping) -> any ProviderSettings {
        if kind == .dingtalkRobot {
            return DingTalkSettings(accessToken: m.secret("access_token", missingHint: "add `access_token: ${HERALD_DINGTALK_ROBOT_TOKEN}` (from the robot's webhook URL)"),
                                    secret: m.secret("secret"), endpoint: m.text("endpoint"))
        }
        if !m.has("agent_id") { m.missing("agent_id", hint: "add `agent_id:` (the app's AgentId, a number)") }
        return DingTalkSettings(appKey: m.text("app_key", required: true),
                                appSecret: m.secret("app_secret", missingHint: "add `app_secret: ${HERALD_DINGTALK_SECRET}`"),
                                agentID: m.integer("agent_id", range: 0...Int(Int32.max)), endpoint: m.text("endpoint"))
    }
}

extension ChatApp {
    /// The DingTalk credentials, as `DingTalkSettingsReader` read them.
    public var dingtalkSettings: DingTalkSettings { provider as? DingTalkSettings ?? DingTalkSettings() }
}

/// DingTalk's custom-robot signature (加签): `timestamp + "\n" + secret` signed with HMAC-SHA256
/// keyed by the secret, base64, then URL-encoded; `timestamp` in milliseconds.
///
/// ```swift
/// DingTalkSignature.sign(timestamp: 1577262236757, secret: "this is secret")
/// // "hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D"
/// ```
public enum DingTalkSignature {
    /// The base64 signature, before URL-encoding.
    public static func base64(timestamp: Int64, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp)\n\(secret)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// The `sign` query value.
    public static func sign(timestamp: Int64, secret: String) -> String {
        HTTPOutcome.query(base64(timestamp: timestamp, secret: secret))
    }
}

/// Sends 钉钉 messages for one `dingtalk.apps` entry: work notifications (`asyncsend_v2`: text,
/// markdown, link, action_card, to a member or a department) with the app's token from `gettoken`
/// (cached and shared like WeCom's), or a custom robot's messages (`robot/send`, signed with 加签
/// when the robot has a secret).
///
/// DingTalk answers 200 with an `errcode`, and a bad token as 88 with `sub_code` 40014/42001: the
/// token is fetched again once. -1, 143103 and 143104 are retried later; a robot sending too fast
/// (130101, 660026) waits out DingTalk's 10-minute block; bad credentials or a refused signature
/// (40096, 310000, 300005) stop the account; anything else fails the message with its code.
public final class DingTalkTransport: Transport, Sendable {
    /// The name in logs.
    public var name: String { robot ? "dingtalk_robot" : "dingtalk" }
    /// How many messages it may have in flight at once.
    public let concurrency: Int
    private let settings: DingTalkSettings
    private let robot: Bool
    private let base: String
    private let clock: @Sendable () -> Date
    private let clients = HTTPClientPool()
    private let cache: AccessTokenCache

    /// The token was refused (directly, or as 88 with this sub_code).
    static let tokenErrors: Set<String> = ["40014", "42001"]
    /// Worth retrying later: busy, per-app and per-corp QPM.
    static let transientErrors: Set<Int> = [-1, 143103, 143104]
    /// A robot sent too fast: DingTalk blocks it for 10 minutes.
    static let robotRateErrors: Set<Int> = [130101, 660026]
    /// The account's credentials or signature are wrong, or the robot is gone.
    static let accountErrors: Set<Int> = [40089, 40096, 310000, 300005, 400102]

    /// Creates the transport of `app`.
    public init(app: ChatApp, tokens: any AccessTokenStore, concurrency: Int = 4, clock: @escaping @Sendable () -> Date = { Date() }) {
        settings = app.dingtalkSettings
        robot = app.transport == .dingtalkRobot
        self.concurrency = robot ? 1 : concurrency
        self.clock = clock
        cache = AccessTokenCache(store: tokens, name: "dingtalk:\(app.dingtalkSettings.appKey ?? app.id)", clock: clock)
        var base = app.dingtalkSettings.endpoint ?? "https://oapi.dingtalk.com"
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        guard case let .dingtalk(message) = envelope.message.content else {
            return .permanent(code: "wrong_channel", "the dingtalk transport sends dingtalk messages")
        }
        if robot {
            var url = "\(base)/robot/send?access_token=\(HTTPOutcome.query(settings.accessToken?.value ?? ""))"
            if let secret = settings.secret?.value, !secret.isEmpty {
                let timestamp = Int64((clock().timeIntervalSince1970 * 1000).rounded(.down))
                url += "&timestamp=\(timestamp)&sign=\(DingTalkSignature.sign(timestamp: timestamp, secret: secret))"
            }
            let body = HTTPOutcome.encoded(Self.robotBody(message))
            let signed = url
            return await clients.run({ client in Self.outcome(of: client.post(signed, headers: ["Content-Type": "application/json"], body: body), robot: true).outcome })
                ?? .transient(code: "curl_init", "libcurl could not create a handle")
        }
        let body = HTTPOutcome.encoded(Self.appBody(message, address: envelope.address, agentID: settings.agentID ?? 0))
        let (base, clients) = (base, clients)
        return await cache.send(fetch: tokenFetch()) { token in
            let url = "\(base)/topapi/message/corpconversation/asyncsend_v2?access_token=\(HTTPOutcome.query(token))"
            return await clients.run { client in Self.outcome(of: client.post(url, headers: ["Content-Type": "application/json"], body: body), robot: false) }
        }
    }

    /// How the app's token is fetched (`gettoken`, by AppKey and AppSecret).
    private func tokenFetch() -> @Sendable () async -> Result<(String, Double), FailedFetch> {
        let url = "\(base)/gettoken?appkey=\(HTTPOutcome.query(settings.appKey ?? ""))&appsecret=\(HTTPOutcome.query(settings.appSecret?.value ?? ""))"
        let clients = clients
        return {
            guard let response = await clients.run({ client in client.get(url) }) else {
                return .failure(FailedFetch(outcome: .transient(code: "curl_init", "libcurl could not create a handle")))
            }
            if let failure = HTTPOutcome.failure(response) { return .failure(FailedFetch(outcome: failure)) }
            let reply = HTTPOutcome.decoded(Reply.self, from: response)
            guard let token = reply?.accessToken, let expires = reply?.expiresIn else {
                let errcode = reply?.errcode ?? -1
                var outcome = DeliveryOutcome.transient(code: FailureCode(String(errcode)), "access token: \(reply?.errmsg ?? "no access_token in the answer")")
                outcome.stopsAccount = Self.accountErrors.contains(errcode)
                return .failure(FailedFetch(outcome: outcome))
            }
            return .success((token, expires))
        }
    }

    static func outcome(of response: HTTPResponse, robot: Bool) -> TokenAnswer {
        if let failure = HTTPOutcome.failure(response) { return TokenAnswer(outcome: failure) }
        guard let reply = HTTPOutcome.decoded(Reply.self, from: response), let errcode = reply.errcode else {
            return TokenAnswer(outcome: .transient(code: "http_\(response.status)", "DingTalk answered without errcode"))
        }
        let message = [reply.errmsg, reply.subMsg].compactMap { $0 }.joined(separator: "; ")
        if errcode == 0 { return TokenAnswer(outcome: .sent(providerID: reply.taskID)) }
        // 88 means "look at sub_code": DingTalk's own code is the one that counts.
        let effective = errcode == 88 ? (reply.subCode ?? "88") : String(errcode)
        let code = FailureCode(effective)
        if tokenErrors.contains(effective) { return TokenAnswer(outcome: .transient(code: code, message), tokenRejected: true) }
        if transientErrors.contains(errcode) { return TokenAnswer(outcome: .transient(code: code, message)) }
        if robot && robotRateErrors.contains(errcode) {
            var outcome = DeliveryOutcome.transient(code: code, message)
            outcome.retryAfter = .seconds(600)
            return TokenAnswer(outcome: outcome)
        }
        if accountErrors.contains(errcode) {
            var outcome = DeliveryOutcome.transient(code: code, message)
            outcome.stopsAccount = true
            return TokenAnswer(outcome: outcome)
        }
        return TokenAnswer(outcome: .permanent(code: code, message))
    }

    // Bodies as DingTalk documents them: snake_case inside a work notification's `msg`, camelCase for robots.

    struct Text: Encodable { var content: String }
    struct AppMarkdown: Encodable { var title: String; var text: String }
    struct Link: Encodable { var messageUrl: String; var picUrl: String?; var title: String; var text: String }
    struct AppActionCard: Encodable { var title: String; var markdown: String; var single_title: String; var single_url: String }
    struct RobotActionCard: Encodable { var title: String; var text: String; var btnOrientation = "0"; var singleTitle: String; var singleURL: String }

    /// A work notification's `msg`.
    struct AppMsg: Encodable {
        var msgtype: String
        var text: Text?
        var markdown: AppMarkdown?
        var link: Link?
        var action_card: AppActionCard?
    }

    /// `asyncsend_v2`'s body.
    struct AppMessage: Encodable {
        var agent_id: Int
        var userid_list: String?
        var dept_id_list: String?
        var msg: AppMsg
    }

    /// `robot/send`'s body.
    struct RobotMessage: Encodable {
        var msgtype: String
        var text: Text?
        var markdown: AppMarkdown?
        var link: Link?
        var actionCard: RobotActionCard?
    }

    static func appBody(_ message: RenderedChat, address: String, agentID: Int) -> AppMessage {
        var msg = AppMsg(msgtype: message.type.rawValue)
        switch message.type {
        case .markdown: msg.markdown = AppMarkdown(title: message.title ?? "", text: message.content ?? "")
        case .link: msg.link = Link(messageUrl: message.url ?? "", picUrl: message.picture, title: message.title ?? "", text: message.content ?? "")
        case .actionCard:
            msg.action_card = AppActionCard(title: message.title ?? "", markdown: message.content ?? "", single_title: message.button ?? "查看详情",
                                            single_url: message.url ?? "")
        default:
            msg.msgtype = "text"
            msg.text = Text(content: message.content ?? message.readable)
        }
        return AppMessage(agent_id: agentID, userid_list: message.to == .user ? address : nil,
                          dept_id_list: message.to == .party ? address : nil, msg: msg)
    }

    static func robotBody(_ message: RenderedChat) -> RobotMessage {
        var body = RobotMessage(msgtype: message.type.rawValue)
        switch message.type {
        case .markdown: body.markdown = AppMarkdown(title: message.title ?? "", text: message.content ?? "")
        case .link: body.link = Link(messageUrl: message.url ?? "", picUrl: message.picture, title: message.title ?? "", text: message.content ?? "")
        case .actionCard:
            body.msgtype = "actionCard"
            body.actionCard = RobotActionCard(title: message.title ?? "", text: message.content ?? "", singleTitle: message.button ?? "查看详情",
                                              singleURL: message.url ?? "")
        default:
            body.msgtype = "text"
            body.text = Text(content: message.content ?? message.readable)
        }
        return body
    }

    /// What DingTalk answers: `errcode`, `errmsg`, `sub_code`/`sub_msg` (with 88), a work
    /// notification's `task_id` (a number), or a token's `access_token`/`expires_in`.
    struct Reply: Decodable {
        var errcode: Int?
        var errmsg: String?
        var subCode: String?
        var subMsg: String?
        var taskID: String?
        var accessToken: String?
        var expiresIn: Double?

        enum CodingKeys: String, CodingKey {
            case errcode, errmsg, subCode = "sub_code", subMsg = "sub_msg", taskID = "task_id"
            case accessToken = "access_token", expiresIn = "expires_in"
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            errcode = try? container.decodeIfPresent(Int.self, forKey: .errcode)
            errmsg = try? container.decodeIfPresent(String.self, forKey: .errmsg)
            subCode = (try? container.decodeIfPresent(String.self, forKey: .subCode))
                ?? (try? container.decodeIfPresent(Int.self, forKey: .subCode)).flatMap { $0.map(String.init) }
            subMsg = try? container.decodeIfPresent(String.self, forKey: .subMsg)
            taskID = (try? container.decodeIfPresent(Int64.self, forKey: .taskID)).flatMap { $0.map(String.init) }
                ?? (try? container.decodeIfPresent(String.self, forKey: .taskID)) ?? nil
            accessToken = try? container.decodeIfPresent(String.self, forKey: .accessToken)
            expiresIn = try? container.decodeIfPresent(Double.self, forKey: .expiresIn)
        }
    }
}
