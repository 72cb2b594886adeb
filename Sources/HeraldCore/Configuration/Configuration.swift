import Foundation

/// How an account, channel or app delivers. `file` writes what would be sent under
/// `outbox/sent/`, so the shipped workspace runs with no server.
public enum TransportKind: String, Sendable, Hashable, CaseIterable {
    /// Writes each message under `outbox/sent/<channel>/<batch>/`.
    case file
    /// Records `sent` and writes nothing (benchmarks, muting a channel).
    case discard
    /// Email over SMTP (mail accounts only).
    case smtp
    /// The in-app inbox in outbox/herald.sqlite (site only).
    case inbox
    /// Aliyun SMS, Dysmsapi SendSms (sms only).
    case aliyun
    /// Tencent Cloud SMS, SendSms 2021-01-11 (sms only).
    case tencent
    /// A JSON POST to the operator's own gateway, HMAC-signed (sms only).
    case webhook
    /// The WeChat HTTP API (wechat apps only).
    case wechat
    /// 企业微信 app messages, `message/send` (wecom apps only).
    case wecom
    /// A 企业微信 group robot, `webhook/send?key=` (wecom apps only).
    case wecomRobot = "wecom_robot"
    /// 钉钉 work notifications, `asyncsend_v2` (dingtalk apps only).
    case dingtalk
    /// A 钉钉 custom robot, `robot/send` with 加签 (dingtalk apps only).
    case dingtalkRobot = "dingtalk_robot"
    /// 飞书 app bot messages, `im/v1/messages` (feishu apps only).
    case feishu
    /// A 飞书 custom bot, `bot/v2/hook/` with its signature (feishu apps only).
    case feishuRobot = "feishu_robot"

    /// The SMS provider kinds.
    public var isSMSProvider: Bool { self == .aliyun || self == .tencent || self == .webhook }

    /// Whether the kind reads settings of its own from herald.yaml (a server, credentials),
    /// through a ``ProviderSettingsReader`` of the channel module.
    public var readsSettings: Bool { !(self == .file || self == .discard || self == .inbox) }

    /// The only section of herald.yaml that may use this transport; nil when any may (file, discard).
    public var section: String? {
        switch self {
        case .file, .discard: nil
        case .smtp: "mail accounts"
        case .inbox: "the site channel"
        case .aliyun, .tencent, .webhook: "sms channels"
        case .wechat: "wechat apps"
        case .wecom, .wecomRobot: "wecom apps"
        case .dingtalk, .dingtalkRobot: "dingtalk apps"
        case .feishu, .feishuRobot: "feishu apps"
        }
    }
}

/// WeChat app kinds: template messages need an official account, subscribe messages a mini program.
public enum WeChatAppKind: String, Sendable, Hashable, CaseIterable {
    case officialAccount = "official_account"
    case miniProgram = "mini_program"

    /// The channel an app of this kind sends: template messages or subscribe messages.
    public var channel: Channel {
        self == .officialAccount ? .wechatMP : .wechatMini
    }
}

/// A mail account, `mail.accounts.<id>` in herald.yaml.
public struct MailAccount: Sendable {
    /// The id templates name in `account:`.
    public var id: String
    /// How messages leave.
    public var transport: TransportKind
    /// Envelope and header sender address.
    public var from: String
    /// Optional Reply-To address.
    public var replyTo: String?
    /// The provider's settings, when the transport reads some (`smtp`: HeraldChannels' `SMTPSettings`).
    public var provider: (any ProviderSettings)?
    /// Messages per period through this account (the rate-limit stage).
    public var rate: RateLimit?
    /// Largest message, attachments included, in bytes (`max_size`, default 25MB).
    public var maxSize: Int
    /// The domain of VERP return paths (`bounce_domain`): a late bounce to
    /// `b+<message id>@bounces.example.com` names the message it is about.
    public var bounceDomain: String?
    /// At most this many messages a day (`daily_quota`), the day in herald.yaml's zone; over it
    /// a template's next account is used, or the message waits until midnight.
    public var dailyQuota: Int?

    /// The envelope sender (SMTP `MAIL FROM`, `Return-Path`) of message `messageID`: its VERP
    /// address when the account has a `bounce_domain`, else `from`.
    public func envelopeSender(messageID: String) -> String {
        bounceDomain.map { "b+\(messageID)@\($0)" } ?? from
    }

    /// Creates an account.
    public init(id: String, transport: TransportKind = .file, from: String, replyTo: String? = nil,
                provider: (any ProviderSettings)? = nil, rate: RateLimit? = nil, maxSize: Int = 25 << 20) {
        self.id = id
        self.transport = transport
        self.from = from
        self.replyTo = replyTo
        self.provider = provider
        self.rate = rate
        self.maxSize = maxSize
    }
}

/// An SMS channel, `sms.channels.<id>` in herald.yaml.
public struct SMSChannel: Sendable {
    /// The id templates name in `channel:`.
    public var id: String
    /// How messages leave.
    public var transport: TransportKind
    /// The approved signature (签名), shown as `【签名】` and counted in the length.
    public var signature: String?
    /// Messages per period through this channel.
    public var rate: RateLimit?
    /// The provider's credentials and endpoint, for `aliyun`, `tencent` and `webhook`
    /// (HeraldChannels' `SMSProviderSettings`).
    public var provider: (any ProviderSettings)?

    /// Creates a channel.
    public init(id: String, transport: TransportKind = .file, signature: String? = nil) {
        self.id = id
        self.transport = transport
        self.signature = signature
    }
}

/// A WeChat app, `wechat.apps.<id>` in herald.yaml.
public struct WeChatApp: Sendable {
    /// The id templates name in `app:`.
    public var id: String
    /// How messages leave.
    public var transport: TransportKind
    /// Official account or mini program.
    public var kind: WeChatAppKind
    /// WeChat's app id (`wx…`).
    public var appID: String?
    /// Messages per period through this app.
    public var rate: RateLimit?
    /// The app secret and endpoint, for `transport: wechat` (HeraldChannels' `WeChatAppSettings`).
    public var provider: (any ProviderSettings)?

    /// Creates an app.
    public init(id: String, transport: TransportKind = .file, kind: WeChatAppKind, appID: String? = nil) {
        self.id = id
        self.transport = transport
        self.kind = kind
        self.appID = appID
    }
}

/// An app or group robot of a workplace chat platform: `wecom.apps.<id>`, `dingtalk.apps.<id>`.
public struct ChatApp: Sendable {
    /// An app sends to members, parties and tags; a robot posts to its group.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case app
        case robot
    }

    /// The id templates name in `app:` or `robot:`.
    public var id: String
    /// How messages leave.
    public var transport: TransportKind
    /// App or robot (`kind:`, else from the transport: `wecom_robot` is a robot).
    public var kind: Kind
    /// Messages per period through this app; robots default to WeCom's 20/min.
    public var rate: RateLimit?
    /// The credentials (HeraldChannels' `WeComSettings`, `DingTalkSettings`).
    public var provider: (any ProviderSettings)?

    /// What WeCom lets one app send one member (30 a minute, 1,000 an hour); the excess is
    /// dropped without an error, so these are the channel's built-in caps (`caps.wecom` overrides).
    public static let memberLimits = [RateLimit(count: 30, period: .seconds(60)), RateLimit(count: 1000, period: .seconds(3600))]
    /// What one group robot may post: 20 a minute on WeCom and DingTalk (which blocks a robot
    /// over it for 10 minutes), 100 a minute on Feishu (which also allows at most 5 a second).
    /// The account's rate unless `rate:` says otherwise.
    public static func robotLimit(_ channel: Channel) -> RateLimit {
        channel == .feishu ? RateLimit(count: 100, period: .seconds(60)) : RateLimit(count: 20, period: .seconds(60))
    }

    /// Creates an app.
    public init(id: String, transport: TransportKind = .file, kind: Kind = .app) {
        self.id = id
        self.transport = transport
        self.kind = kind
    }
}

/// The site (站内信) store settings, `site` in herald.yaml.
public struct SiteSettings: Sendable, Hashable {
    /// How site messages are stored.
    public var transport: TransportKind

    /// Creates the settings.
    public init(transport: TransportKind = .file) {
        self.transport = transport
    }
}

/// `herald serve`: where it listens, who may call it, and the receipt callback secret
/// (`serve:` in herald.yaml).
public struct ServeSettings: Sendable, Hashable {
    /// The address to listen on (`bind: 127.0.0.1:8080`).
    public var host = "127.0.0.1"
    /// The port (587 for starttls, 465 for ssl, 25 when not given with none).
    public var port = 8080
    /// Request bodies larger than this are refused with 413 (`max_body`, default 64KB).
    public var maxBody = 64 * 1024
    /// A connection that sends no complete request part (headers, body) for this long, or
    /// sits idle between requests, is closed (`idle_timeout`, default 30s): half-sent requests
    /// cannot hold descriptors forever.
    public var idleTimeout: Duration = .seconds(30)
    /// Connections open at once (`max_connections`, default 1024); past it the server stops
    /// accepting until one closes, so `/healthz` keeps a descriptor.
    public var maxConnections = 1024
    /// Events that may wait for one live client (`GET …/events`) before it is dropped as too
    /// slow (`serve.live_backlog`, default 1000): what bounds serve's memory when clients stop reading.
    public var liveBacklog = 1000
    /// Calling products by name.
    public var clients: [String: ServeClient] = [:]

    /// The path segment that authenticates provider receipt callbacks (`receipts.secret`).
    public var receiptSecret: Secret?

    /// Creates the defaults.
    public init() {}

    /// Reads `HOST:PORT` (`127.0.0.1:8080`, `[::1]:8080`; port 0 picks a free one).
    public static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), colon > text.startIndex,
              let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        return (String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
    }
}

/// A product that calls the inbox API: its bearer token and the tenants it may read.
public struct ServeClient: Sendable, Hashable {
    /// The client's name in herald.yaml (and the access log).
    public var name: String
    /// Its bearer token, from the environment only.
    public var token: Secret
    /// Tenant ids, or `*` for every tenant.
    public var tenants: [String]
    /// What it may do; default `[inbox]`.
    public var scopes: Set<Scope>

    /// What a client of `herald serve` may be allowed to do (`serve.clients.NAME.scopes`).
    public enum Scope: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// The 站内信 API: a user's inbox, its live events, unread counts.
        case inbox
        /// `POST /v1/notifications`: send through the whole chain.
        case send

        public var description: String { rawValue }
    }

    /// Creates a client.
    public init(name: String, token: Secret, tenants: [String], scopes: Set<Scope> = [.inbox]) {
        self.name = name
        self.token = token
        self.tenants = tenants
        self.scopes = scopes
    }

    /// Whether the client may act in `tenant`.
    public func allows(tenant: String) -> Bool { tenants.contains("*") || tenants.contains(tenant) }
}

/// Everything herald.yaml says.
public struct Configuration: Sendable {
    /// Time zone for log days, report days and quiet hours (default Asia/Shanghai).
    public var timeZone: TimeZone
    /// The site store.
    public var site: SiteSettings
    /// Mail accounts by id.
    public var mailAccounts: [String: MailAccount]
    /// SMS channels by id.
    public var smsChannels: [String: SMSChannel]
    /// WeChat apps by id.
    public var wechatApps: [String: WeChatApp]
    /// 企业微信 apps and robots by id (`wecom.apps`).
    public var wecomApps: [String: ChatApp] = [:]
    /// 钉钉 apps and robots by id (`dingtalk.apps`).
    public var dingtalkApps: [String: ChatApp] = [:]
    /// 飞书 apps and bots by id (`feishu.apps`).
    public var feishuApps: [String: ChatApp] = [:]

    /// The apps and robots of a chat platform's channel (wecom, dingtalk).
    public func chatApps(_ channel: Channel) -> [String: ChatApp] {
        switch channel {
        case .wecom: wecomApps
        case .dingtalk: dingtalkApps
        case .feishu: feishuApps
        default: [:]
        }
    }
    /// How long a batch file must sit unchanged before it is taken (`inbox.settle`, default 2 s).
    public var settle: Duration = .seconds(2)
    /// Messages in flight at once per transport (`pipeline.concurrency`, default 8).
    public var concurrency: Int = 8
    /// Rows processed per step of the pipeline (`pipeline.chunk`, default 512).
    public var chunkSize: Int = 512
    /// Whether logs show whole addresses (`log.recipients`, default masked).
    public var recipientMasking: RecipientMasking = .masked
    /// The retry policy (`retry:`), and overrides by `channel/account` (`mail/exmail`).
    public var retry = RetryPolicy()
    /// Retry policies of single accounts, channels and apps, by `channel/id`.
    public var retryOverrides: [TransportKey: RetryPolicy] = [:]
    /// Per-recipient caps by channel, then by category (nil = every category) (`caps:`).
    public var caps: [Channel: [TemplateCategory?: [RateLimit]]] = [
        .sms: [nil: [RateLimit(count: 1, period: .seconds(60)), RateLimit(count: 5, period: .seconds(3600)),
                     RateLimit(count: 10, period: .seconds(86_400))]],
        // WeCom drops what a member gets beyond 30 a minute and 1,000 an hour from one app, silently.
        .wecom: [nil: ChatApp.memberLimits],
    ]
    /// A verification message is deferred by a cap only this long at most; beyond that it would
    /// arrive too late and is suppressed (`caps.verification_max_wait`, default 1m).
    public var verificationMaxWait: Duration = .seconds(60)
    /// Quiet hours by category, in `timeZone` (`quiet_hours:`).
    public var quietHours: [TemplateCategory: QuietHours] = [:]
    /// Append hard mail bounces ("no such user") to recipients/suppressions.csv (`preferences.suppress_bounces`).
    public var suppressBounces = true
    /// Stop sending on a transport after this many failures in a row, 0 never (`pipeline.burst_failures`).
    public var burstFailures = 20
    /// How often `herald watch` looks at the inbox and the spool (`watch.interval`, default 1s).
    public var watchInterval: Duration = .seconds(1)
    /// `herald serve` (`serve:`).
    public var serve = ServeSettings()
    /// Where state lives (`store:`): the embedded SQLite file unless a PostgreSQL URL is set.
    public var store = StoreSettings()
    /// This process as one of several workers (`worker:`).
    public var worker = WorkerSettings()
    /// One-click unsubscribe for marketing mail (`mail.unsubscribe`), or nil.
    public var unsubscribe: OneClickUnsubscribe?

    /// The retry policy for messages of `channel` through `account`.
    public func retryPolicy(channel: Channel, account: String) -> RetryPolicy {
        retryOverrides[TransportKey(channel, account)] ?? retry
    }

    /// The per-recipient caps for `channel` and `category`.
    public func recipientCaps(channel: Channel, category: TemplateCategory) -> [RateLimit] {
        guard let byCategory = caps[channel] else { return [] }
        return byCategory[category] ?? byCategory[nil] ?? []
    }

    /// The token-bucket rate of `channel`'s `account`, if configured.
    public func rate(channel: Channel, account: String) -> RateLimit? {
        switch channel {
        case .mail: mailAccounts[account]?.rate
        case .sms: smsChannels[account]?.rate
        case .wechatMP, .wechatMini: wechatApps[account]?.rate
        case .wecom, .dingtalk, .feishu: chatApps(channel)[account].flatMap { $0.rate ?? ($0.kind == .robot ? ChatApp.robotLimit(channel) : nil) }
        case .site: nil
        }
    }

    /// Creates a configuration (tests build one directly).
    public init(timeZone: TimeZone = TimeZone(identifier: "Asia/Shanghai") ?? .current,
                site: SiteSettings = SiteSettings(transport: .inbox),
                mailAccounts: [String: MailAccount] = [:], smsChannels: [String: SMSChannel] = [:],
                wechatApps: [String: WeChatApp] = [:]) {
        self.timeZone = timeZone
        self.site = site
        self.mailAccounts = mailAccounts
        self.smsChannels = smsChannels
        self.wechatApps = wechatApps
    }

    /// The file name Herald reads in the workspace root.
    public static let fileName = "herald.yaml"

    /// Reads `herald.yaml` under `root`. `environment` resolves `${NAME}` values; an unset
    /// variable is an error unless `secretsOptional` (then a warning: `herald check` runs
    /// where secrets are not exported). `channels` reads the settings of provider transports;
    /// without it only `file`, `discard` and `inbox` can be configured.
    public static func load(from root: URL,
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            secretsOptional: Bool = false, channels: ChannelSupport = .none)
        -> (Configuration?, [Diagnostic]) {
        let url = WorkspacePaths(root: root).configuration
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let message = "no \(fileName) in \(root.path); create one (see README) or pass -C DIR"
            return (nil, [.error(message, at: SourceLocation(file: fileName))])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return (nil, [.error("\(fileName) is not UTF-8 text", at: SourceLocation(file: fileName))])
        }
        return ConfigurationLoader(file: fileName, environment: environment, secretsOptional: secretsOptional,
                                   root: root, channels: channels).load(text)
    }
}

/// `store:` in herald.yaml: the embedded SQLite file (`outbox/herald.sqlite`) unless `url` names
/// a PostgreSQL database shared by every worker and `herald serve` replica.
public struct StoreSettings: Sendable, Hashable {
    /// `postgres://user:password@host:5432/herald` from the environment; nil keeps the embedded store.
    public var url: Secret?
    /// Connections per process (`pool`, default 8).
    public var pool: Int = 8
    /// The PostgreSQL schema Herald's tables live in (`schema`, default `public`).
    public var schema: String = "public"

    /// Creates the embedded default.
    public init(url: Secret? = nil, pool: Int = 8, schema: String = "public") {
        self.url = url
        self.pool = pool
        self.schema = schema
    }

    /// Whether state lives in PostgreSQL.
    public var isShared: Bool { !(url?.value.isEmpty ?? true) }
}

/// `worker:` in herald.yaml: this process's name in logs and the work queue, and how long a
/// claimed chunk is its own.
public struct WorkerSettings: Sendable, Hashable {
    /// The worker's name (`name`, default `host:pid`).
    public var name: String?
    /// A claimed chunk not finished within this goes back to the queue (`lease`, default 60s).
    public var lease: Duration = .seconds(60)

    /// Creates the default.
    public init(name: String? = nil, lease: Duration = .seconds(60)) {
        self.name = name
        self.lease = lease
    }

    /// The name, or `host:pid`.
    public var resolvedName: String {
        if let name, !name.isEmpty { return name }
        return "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }
}
