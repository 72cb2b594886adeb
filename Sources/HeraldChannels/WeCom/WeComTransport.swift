import Foundation
import HeraldCore

/// What a `wecom.apps` entry needs: an app's corp id, agent id and secret, or a robot's key
/// (all secrets from the environment); `endpoint` overrides https://qyapi.weixin.qq.com (tests).
public struct WeComSettings: ProviderSettings, Hashable {
    /// The corp id (`ww…`), for apps.
    public var corpID: String?
    /// The app's agent id, for apps.
    public var agentID: Int?
    /// The app's secret (`${ENV}`), for apps.
    public var secret: Secret?
    /// The robot's webhook key (`${ENV}`), for robots.
    public var key: Secret?
    /// Base URL override.
    public var endpoint: String?

    /// Creates settings.
    public init(corpID: String? = nil, agentID: Int? = nil, secret: Secret? = nil, key: Secret? = nil, endpoint: String? = nil) {
        self.corpID = corpID
        self.agentID = agentID
        self.secret = secret
        self.key = key
        self.endpoint = endpoint
    }
}

/// Reads `transport: wecom` (`corp_id`, `agent_id`, `secret`) and `transport: wecom_robot` (`key`) apps.
public struct WeComSettingsReader: ProviderSettingsReader {
    /// `wecom` or `wecomRobot`.
    public let kind: TransportKind

    /// The reader of `kind`.
    public init(_ kind: TransportKind) {
        self.kind = kind
    }

    public var keys: [String] { kind == .wecom ? ["corp_id", "agent_id", "secret", "endpoint"] : ["key", "endpoint"] }

    public func read(_ m: SettingsMapping) -> any ProviderSettings {
        if kind == .wecomRobot {
            return WeComSettings(key: m.secret("key", missingHint: "add `key: ${HERALD_WECOM_ROBOT_KEY}` (the key= of the robot's webhook URL)"),
                                 endpoint: m.text("endpoint"))
        }
        if !m.has("agent_id") { m.missing("agent_id", hint: "add `agent_id:` (the app's AgentId, a number)") }
        return WeComSettings(corpID: m.text("corp_id", required: true), agentID: m.integer("agent_id", range: 0...Int(Int32.max)),
                             secret: m.secret("secret", missingHint: "add `secret: ${HERALD_WECOM_SECRET}` (the app's Secret)"),
                             endpoint: m.text("endpoint"))
    }
}

extension ChatApp {
    /// The corp id, agent id, secret or key, as `WeComSettingsReader` read them.
    public var settings: WeComSettings { provider as? WeComSettings ?? WeComSettings() }
}

/// Sends 企业微信 messages for one `wecom.apps` entry: app messages (`message/send`: text,
/// markdown, textcard, to a member, party or tag) with the app's access token from `gettoken`,
/// cached in the workspace store (shared by runs and PostgreSQL workers) and fetched again once on
/// 40014/42001; or a group robot's messages (`webhook/send?key=`: text, markdown, news).
///
/// WeCom answers 200 with an `errcode`, so the body decides: -1, 45009 and 45033 are retried later
/// (a robot's 45009 after its one-minute window); 40001, 40013, 40056, 48002, 60020 and 93000 stop
/// the account (its messages wait in the spool, the run says why); a member it does not know
/// (81013, `invaliduser`) fails the message.
public final class WeComTransport: Transport, Sendable {
    /// The name in logs.
    public var name: String { robot ? "wecom_robot" : "wecom" }
    /// How many messages it may have in flight at once.
    public let concurrency: Int
    private let app: ChatApp
    private let settings: WeComSettings
    private let robot: Bool
    private let base: String
    private let clients = HTTPClientPool()
    private let cache: AccessTokenCache

    /// The token was refused: fetch a new one and try once more.
    static let tokenErrors: Set<Int> = [40014, 42001]
    /// Worth retrying later: system busy, frequency limits.
    static let transientErrors: Set<Int> = [-1, 45009, 45033]
    /// The account's settings are wrong: secret, corp id, agent id, not authorised, IP not allowed, robot key.
    static let accountErrors: Set<Int> = [40001, 40013, 40056, 48002, 60020, 93000]
    /// The message's recipient is unknown or out of the app's reach.
    static let recipientErrors: Set<Int> = [60011, 81013, 82001]

    /// Creates the transport of `app`.
    public init(app: ChatApp, tokens: any AccessTokenStore, concurrency: Int = 4, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.app = app
        self.settings = app.settings
        self.robot = app.transport == .wecomRobot
        self.cache = AccessTokenCache(store: tokens, name: "wecom:\(app.settings.corpID ?? ""):\(app.settings.agentID ?? 0)", clock: clock)
        self.concurrency = robot ? 1 : concurrency
        var base = app.settings.endpoint ?? "https://qyapi.weixin.qq.com"
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        guard case let .wecom(message) = envelope.message.content else {
            return .permanent(code: "wrong_channel", "the wecom transport sends wecom messages")
        }
        if robot {
            let body = HTTPOutcome.encoded(Self.robotBody(message))
            let url = "\(base)/cgi-bin/webhook/send?key=\(HTTPOutcome.query(settings.key?.value ?? ""))"
            guard let answer = await clients.run({ client in Self.outcome(of: client.post(url, headers: ["Content-Type": "application/json"], body: body),
                                                                          address: envelope.address, robot: true) }) else {
                return .transient(code: "curl_init", "libcurl could not create a handle")
            }
            return answer.outcome
        }
        let body = HTTPOutcome.encoded(Self.appBody(message, address: envelope.address, agentID: settings.agentID ?? 0))
        let (base, clients, address) = (base, clients, envelope.address)
        return await cache.send(fetch: tokenFetch()) { token in
            let url = "\(base)/cgi-bin/message/send?access_token=\(HTTPOutcome.query(token))"
            return await clients.run { client in
                Self.outcome(of: client.post(url, headers: ["Content-Type": "application/json"], body: body), address: address, robot: false)
            }
        }
    }

    static func outcome(of response: HTTPResponse, address: String, robot: Bool) -> TokenAnswer {
        if let failure = HTTPOutcome.failure(response) { return TokenAnswer(outcome: failure) }
        guard let reply = HTTPOutcome.decoded(Reply.self, from: response), let errcode = reply.errcode else {
            return TokenAnswer(outcome: .transient(code: "http_\(response.status)", "WeCom answered without errcode"))
        }
        // errmsg carries a hint, the caller's IP and a link: the code is what counts.
        let errmsg = reply.errmsg ?? ""
        if errcode == 0 {
            // A member WeCom does not know is listed, and the call still succeeds.
            let unknown = [reply.invaliduser, reply.invalidparty, reply.invalidtag, reply.unlicenseduser]
                .compactMap { $0 }.flatMap { $0.split(separator: "|").map { $0.lowercased() } }
            if unknown.contains(address.lowercased()) {
                return TokenAnswer(outcome: .permanent(code: "wecom_invalid_recipient", "WeCom does not know \(address) in this app's reach (invaliduser)"))
            }
            return TokenAnswer(outcome: .sent(providerID: reply.msgid))
        }
        let code = FailureCode(String(errcode))
        if tokenErrors.contains(errcode) { return TokenAnswer(outcome: .transient(code: code, errmsg), tokenRejected: true) }
        if transientErrors.contains(errcode) {
            var outcome = DeliveryOutcome.transient(code: code, errmsg)
            // A robot over 20 a minute waits out the minute.
            if robot && errcode == 45009 { outcome.retryAfter = .seconds(60) }
            return TokenAnswer(outcome: outcome)
        }
        if accountErrors.contains(errcode) {
            var outcome = DeliveryOutcome.transient(code: code, errmsg)
            outcome.stopsAccount = true
            return TokenAnswer(outcome: outcome)
        }
        return TokenAnswer(outcome: .permanent(code: code, errmsg))
    }

    /// How the app's token is fetched (WeCom keeps one per app: the corp and agent name it).
    private func tokenFetch() -> @Sendable () async -> Result<(String, Double), FailedFetch> {
        let url = "\(base)/cgi-bin/gettoken?corpid=\(HTTPOutcome.query(settings.corpID ?? ""))&corpsecret=\(HTTPOutcome.query(settings.secret?.value ?? ""))"
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

    // Bodies as WeCom documents them (developer.work.weixin.qq.com 90236, 91770).

    struct Text: Encodable { var content: String }
    struct Markdown: Encodable { var content: String }
    struct TextCard: Encodable { var title: String; var description: String; var url: String; var btntxt: String? }
    struct Article: Encodable { var title: String; var description: String?; var url: String; var picurl: String? }
    struct News: Encodable { var articles: [Article] }

    /// `message/send`'s body.
    struct AppMessage: Encodable {
        var touser: String?
        var toparty: String?
        var totag: String?
        var msgtype: String
        var agentid: Int
        var text: Text?
        var markdown: Markdown?
        var textcard: TextCard?
        var enable_duplicate_check = 0
    }

    /// `webhook/send`'s body.
    struct RobotMessage: Encodable {
        var msgtype: String
        var text: Text?
        var markdown: Markdown?
        var news: News?
    }

    static func appBody(_ message: RenderedChat, address: String, agentID: Int) -> AppMessage {
        var body = AppMessage(msgtype: message.type.rawValue, agentid: agentID)
        switch message.to {
        case .user: body.touser = address
        case .party: body.toparty = address
        case .tag: body.totag = address
        }
        // The template loader lets an app send only text, markdown and textcard; anything else goes as text.
        switch message.type {
        case .markdown: body.markdown = Markdown(content: message.content ?? "")
        case .textcard:
            body.textcard = TextCard(title: message.title ?? "", description: message.description ?? "", url: message.url ?? "",
                                     btntxt: message.button)
        default:
            body.msgtype = "text"
            body.text = Text(content: message.content ?? message.readable)
        }
        return body
    }

    static func robotBody(_ message: RenderedChat) -> RobotMessage {
        var body = RobotMessage(msgtype: message.type.rawValue)
        // The template loader lets a robot send only text, markdown and news; anything else goes as text.
        switch message.type {
        case .markdown: body.markdown = Markdown(content: message.content ?? "")
        case .news:
            body.news = News(articles: [Article(title: message.title ?? "", description: message.description, url: message.url ?? "",
                                                picurl: message.picture)])
        default:
            body.msgtype = "text"
            body.text = Text(content: message.content ?? message.readable)
        }
        return body
    }

    /// What WeCom answers: `errcode`/`errmsg`, a message's `msgid` and the recipients it did not
    /// know, or a token's `access_token`/`expires_in`.
    struct Reply: Decodable {
        var errcode: Int?
        var errmsg: String?
        var msgid: String?
        var invaliduser: String?
        var invalidparty: String?
        var invalidtag: String?
        var unlicenseduser: String?
        var accessToken: String?
        var expiresIn: Double?

        enum CodingKeys: String, CodingKey {
            case errcode, errmsg, msgid, invaliduser, invalidparty, invalidtag, unlicenseduser
            case accessToken = "access_token", expiresIn = "expires_in"
        }
    }
}
