/// The ways Herald reaches a person.
public enum Channel: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    /// 站内信, the in-app inbox.
    case site
    /// Email over SMTP.
    case mail
    /// SMS through Aliyun, Tencent Cloud or a webhook gateway.
    case sms
    /// WeChat official-account template message.
    case wechatMP = "wechat_mp"
    /// WeChat mini-program subscribe message.
    case wechatMini = "wechat_mini"
    /// 企业微信 (WeCom): an app message to a member, party or tag, or a group robot's message.
    case wecom
    /// 钉钉 (DingTalk): a work notification to a member, or a custom robot's message.
    case dingtalk
    /// 飞书 (Feishu/Lark): an app bot's message to a user or chat, or a custom bot's message.
    case feishu

    public static func < (lhs: Channel, rhs: Channel) -> Bool {
        lhs.rank < rhs.rank
    }

    /// The reserved batch column holding this channel's address: `user_id`, `email`, `mobile`,
    /// `openid`, `mini_openid`. The one place the two are paired.
    public var addressColumn: String {
        switch self {
        case .site: "user_id"
        case .mail: "email"
        case .sms: "mobile"
        case .wechatMP: "openid"
        case .wechatMini: "mini_openid"
        case .wecom: "wecom_user"
        case .dingtalk: "dingtalk_user"
        case .feishu: "feishu_user"
        }
    }

    /// The channel whose address `column` holds.
    public init?(addressColumn column: String) {
        guard let channel = Channel.allCases.first(where: { $0.addressColumn == column }) else { return nil }
        self = channel
    }

    private var rank: Int {
        switch self {
        case .site: 0
        case .mail: 1
        case .sms: 2
        case .wechatMP: 3
        case .wechatMini: 4
        case .wecom: 5
        case .dingtalk: 6
        case .feishu: 7
        }
    }
}

/// What kind of notification a template is; decides opt-outs and quiet hours.
public enum TemplateCategory: String, Sendable, Hashable, CaseIterable, Codable {
    case verification
    case transactional
    case marketing
    case system
}

/// Whether rows naming a template are sent or recorded as skipped.
public enum TemplateStatus: String, Sendable, Hashable, CaseIterable, Codable {
    case enabled
    case disabled
}

/// A declared parameter from a template's `params:` block.
public struct ParameterDeclaration: Sendable, Hashable {
    /// The placeholder name.
    public var name: String
    /// Whether a row must give a non-empty value (true unless declared otherwise).
    public var required: Bool
    /// Used when the row gives no value or an empty one.
    public var defaultValue: String?

    /// Creates a declaration.
    public init(name: String, required: Bool = true, defaultValue: String? = nil) {
        self.name = name
        self.required = required
        self.defaultValue = defaultValue
    }
}

/// The 站内信 variant.
public struct SiteVariant: Sendable, Hashable {
    /// Sender name shown in the inbox.
    public var nickname: TemplateText?
    /// Message type shown to the product (`notification`, `announcement`, ...).
    public var type: String
    /// The message body.
    public var content: TemplateText

    /// Creates a value from its parts.
    public init(nickname: TemplateText? = nil, type: String, content: TemplateText) {
        self.nickname = nickname
        self.type = type
        self.content = content
    }
}

/// The email variant.
public struct MailVariant: Sendable, Hashable {
    /// Id of an account under `mail.accounts` in herald.yaml.
    public var account: String
    /// Accounts to fail over to, in order, when `account` fails for now or is over its daily quota
    /// (`account: [exmail, ses]`).
    public var fallbackAccounts: [String] = []
    /// Display name of the sender.
    public var nickname: TemplateText?
    /// The subject.
    public var title: TemplateText
    /// HTML body; parameters are HTML-escaped here.
    public var html: TemplateText?
    /// Plain-text body.
    public var text: TemplateText?
    /// Files attached to every message, paths inside the workspace (placeholders allowed).
    public var attachments: [TemplateText]
    /// One-click unsubscribe URL for List-Unsubscribe (placeholders allowed).
    public var unsubscribe: TemplateText?

    /// Creates a value from its parts.
    public init(account: String, nickname: TemplateText? = nil, title: TemplateText, html: TemplateText? = nil, text: TemplateText? = nil,
                attachments: [TemplateText] = [], unsubscribe: TemplateText? = nil) {
        self.account = account
        self.nickname = nickname
        self.title = title
        self.html = html
        self.text = text
        self.attachments = attachments
        self.unsubscribe = unsubscribe
    }
}

/// The SMS variant.
public struct SMSVariant: Sendable, Hashable {
    /// Ids of channels under `sms.channels`, in failover order.
    public var channels: [String]
    /// The provider's approved template id (Aliyun `SMS_123`, Tencent numeric id).
    public var apiTemplateID: String
    /// The text as the provider's approved template renders it, used for length and previews.
    public var content: TemplateText

    /// Creates a value from its parts.
    public init(channels: [String], apiTemplateID: String, content: TemplateText) {
        self.channels = channels
        self.apiTemplateID = apiTemplateID
        self.content = content
    }
}

/// One entry of a WeChat template's `data`.
public struct WeChatDataItem: Sendable, Hashable {
    /// The data key (`keyword1`, `thing2`).
    public var key: String
    /// The value.
    public var value: TemplateText
    /// Optional colour (official-account template messages only).
    public var color: String?

    /// Creates a value from its parts.
    public init(key: String, value: TemplateText, color: String? = nil) {
        self.key = key
        self.value = value
        self.color = color
    }
}

/// The WeChat variants: official-account template message and mini-program subscribe message.
public struct WeChatVariant: Sendable, Hashable {
    /// Id of an app under `wechat.apps`.
    public var app: String
    /// WeChat's template id.
    public var templateID: String
    /// Official account: the page opened on tap.
    public var url: TemplateText?
    /// Mini program: the page path opened on tap.
    public var page: TemplateText?
    /// Official account: mini program to open instead of `url`.
    public var miniprogramAppID: String?
    /// Official account: page path inside `miniprogramAppID`.
    public var miniprogramPage: TemplateText?
    /// The template's data fields in order.
    public var data: [WeChatDataItem]
    /// Mini program: `developer`, `trial` or `formal` (default formal).
    public var miniprogramState: String?
    /// Mini program: `zh_CN`, `en_US`, `zh_HK`, `zh_TW`.
    public var lang: String?
    /// Mini program: cut over-long text values with `…` instead of rejecting the row.
    public var truncate: Bool = false

    /// Creates a value from its parts.
    public init(app: String, templateID: String, url: TemplateText? = nil, page: TemplateText? = nil, miniprogramAppID: String? = nil, miniprogramPage: TemplateText? = nil, data: [WeChatDataItem]) {
        self.app = app
        self.templateID = templateID
        self.url = url
        self.page = page
        self.miniprogramAppID = miniprogramAppID
        self.miniprogramPage = miniprogramPage
        self.data = data
    }
}

/// A variant of a workplace chat platform (企业微信 `wecom:`, 钉钉 `dingtalk:`): an app message
/// (`app:`) to the row's address column (`wecom_user`, `dingtalk_user`: a member id, or with `to:`
/// a party or tag id), or a group robot's message (`robot:`), which has no per-row address.
public struct ChatVariant: Sendable, Hashable {
    /// The message types.
    public enum MessageType: String, Sendable, Hashable, CaseIterable, Codable {
        /// Plain text (`content`).
        case text
        /// WeCom's markdown subset (`content`); parameters are escaped.
        case markdown
        /// App messages: a card with `title`, `description`, `url` and `button`.
        case textcard
        /// WeCom robots: one article with `title`, `description`, `url` and `picture`.
        case news
        /// DingTalk: a link with `title`, `content` (its text), `url` and `picture`.
        case link
        /// DingTalk: a markdown card with `title`, `content` (markdown), and a `button` to `url`.
        case actionCard = "action_card"

        /// The types each platform's apps and robots send.
        public static func allowed(on channel: Channel, robot: Bool) -> [MessageType] {
            switch channel {
            case .dingtalk: [.text, .markdown, .link, .actionCard]
            case .feishu: [.text, .markdown]
            default: robot ? [.text, .markdown, .news] : [.text, .markdown, .textcard]
            }
        }

        /// The fields a message of this type takes.
        public func fields(on channel: Channel) -> [String] {
            switch self {
            case .text: ["content"]
            case .markdown: channel == .wecom ? ["content"] : ["content", "title"]
            case .textcard: ["title", "description", "url", "button"]
            case .news: ["title", "description", "url", "picture"]
            case .link: ["title", "content", "url", "picture"]
            case .actionCard: ["title", "content", "url", "button"]
            }
        }

        /// The fields it cannot go without.
        public func required(on channel: Channel) -> [String] {
            switch self {
            case .text: ["content"]
            case .markdown: channel == .dingtalk ? ["content", "title"] : ["content"]
            case .textcard: ["title", "description", "url"]
            case .news: ["title", "url"]
            case .link, .actionCard: ["title", "content", "url"]
            }
        }
    }

    /// What a 飞书 app message's `feishu_user` holds (`receive_id_type`).
    public static let feishuIDTypes = ["open_id", "user_id", "union_id", "email", "chat_id"]

    /// Who an app message's `wecom_user` names.
    public enum Target: String, Sendable, Hashable, CaseIterable, Codable {
        /// A member's userid (`touser`).
        case user
        /// A department id (`toparty`).
        case party
        /// A tag id (`totag`).
        case tag
    }

    /// Id of a `wecom.apps` entry with `transport: wecom` (or file/discard), for app messages.
    public var app: String?
    /// Id of a `wecom.apps` entry with `transport: wecom_robot` (or file/discard), for robot messages.
    public var robot: String?
    /// The message type.
    public var type: MessageType
    /// Who `wecom_user` names (app messages).
    public var to: Target = .user
    /// 飞书 app messages: what `feishu_user` holds (`open_id`, default; `user_id`, `union_id`,
    /// `email`, `chat_id`).
    public var idType: String?
    /// text and markdown.
    public var content: TemplateText?
    /// textcard and news.
    public var title: TemplateText?
    /// textcard and news.
    public var description: TemplateText?
    /// textcard (required) and news (required).
    public var url: TemplateText?
    /// textcard's button text (`btntxt`, default 详情).
    public var button: TemplateText?
    /// news's picture URL.
    public var picture: TemplateText?

    /// The account the message goes through: the app or the robot.
    public var account: String { app ?? robot ?? "" }

    /// Creates a value from its parts.
    public init(app: String? = nil, robot: String? = nil, type: MessageType, to: Target = .user, content: TemplateText? = nil,
                title: TemplateText? = nil, description: TemplateText? = nil, url: TemplateText? = nil,
                button: TemplateText? = nil, picture: TemplateText? = nil) {
        self.app = app
        self.robot = robot
        self.type = type
        self.to = to
        self.content = content
        self.title = title
        self.description = description
        self.url = url
        self.button = button
        self.picture = picture
    }

    /// The address of every robot message: robots post to their group, not to a person.
    public static func robotAddress(_ robot: String) -> String { "robot:\(robot)" }
}

/// The channel variants one template (or one locale of it) defines.
public struct VariantSet: Sendable, Hashable {
    /// The 站内信 variant.
    public var site: SiteVariant?
    /// The email variant.
    public var mail: MailVariant?
    /// The SMS variant.
    public var sms: SMSVariant?
    /// The official-account template-message variant.
    public var wechatMP: WeChatVariant?
    /// The mini-program subscribe-message variant.
    public var wechatMini: WeChatVariant?
    /// The 企业微信 variant.
    public var wecom: ChatVariant?
    /// The 钉钉 variant.
    public var dingtalk: ChatVariant?
    /// The 飞书 variant.
    public var feishu: ChatVariant?

    /// Creates a set; every variant is optional.
    public init(site: SiteVariant? = nil, mail: MailVariant? = nil, sms: SMSVariant? = nil,
                wechatMP: WeChatVariant? = nil, wechatMini: WeChatVariant? = nil, wecom: ChatVariant? = nil,
                dingtalk: ChatVariant? = nil, feishu: ChatVariant? = nil) {
        self.site = site
        self.mail = mail
        self.sms = sms
        self.wechatMP = wechatMP
        self.wechatMini = wechatMini
        self.wecom = wecom
        self.dingtalk = dingtalk
        self.feishu = feishu
    }

    /// Channels that have a variant here, in `Channel` order.
    public var channels: [Channel] {
        Channel.allCases.filter { has($0) }
    }

    /// Whether a variant for `channel` is defined.
    public func has(_ channel: Channel) -> Bool {
        switch channel {
        case .site: site != nil
        case .mail: mail != nil
        case .sms: sms != nil
        case .wechatMP: wechatMP != nil
        case .wechatMini: wechatMini != nil
        case .wecom: wecom != nil
        case .dingtalk: dingtalk != nil
        case .feishu: feishu != nil
        }
    }

    /// The chat-platform variant of `channel` (wecom, dingtalk), if any.
    public func chat(_ channel: Channel) -> ChatVariant? {
        switch channel {
        case .wecom: wecom
        case .dingtalk: dingtalk
        case .feishu: feishu
        default: nil
        }
    }

    /// Every template field, for placeholder extraction.
    var texts: [TemplateText] {
        var texts: [TemplateText] = []
        if let site { texts += [site.nickname, site.content].compactMap { $0 } }
        if let mail { texts += [mail.nickname, mail.title, mail.html, mail.text, mail.unsubscribe].compactMap { $0 } + mail.attachments }
        if let sms { texts.append(sms.content) }
        for wechat in [wechatMP, wechatMini].compactMap({ $0 }) {
            texts += [wechat.url, wechat.page, wechat.miniprogramPage].compactMap { $0 }
            texts += wechat.data.map(\.value)
        }
        for chat in [wecom, dingtalk, feishu].compactMap({ $0 }) {
            texts += [chat.content, chat.title, chat.description, chat.url, chat.button, chat.picture].compactMap { $0 }
        }
        return texts
    }
}

/// One notification event, loaded from `templates/CODE.yaml`.
public struct Template: Sendable, Hashable {
    /// The file stem, `[a-z0-9_]+`.
    public var code: String
    /// Human name (`订单发货通知`).
    public var name: String
    /// Category; decides opt-outs and quiet hours.
    public var category: TemplateCategory
    /// Enabled or disabled.
    public var status: TemplateStatus
    /// Declared parameters, or nil when the template declares none (then every placeholder is required).
    public var declaredParameters: [ParameterDeclaration]? { didSet { resolveParameters() } }
    /// Variants used when no locale matches.
    public var base: VariantSet { didSet { resolveParameters() } }
    /// Per-locale variants, each already merged over the base (keys as written: `en`, `zh-TW`).
    public var locales: [String: VariantSet] { didSet { resolveParameters() } }
    /// Path of the file, relative to the workspace.
    public var file: String
    /// Where names of herald.yaml entries and the status were written, for `herald check`.
    public var sourceMap = TemplateSourceMap()
    /// `escalate:` steps: variants held back until the first messages were ignored for a while.
    public var escalations: [EscalationRule] = []
    /// `digest:`: rows with the same key within a window fold into one message.
    public var digest: DigestRule?

    /// The escalation step that holds `channel` back, if any.
    public func escalation(holding channel: Channel) -> EscalationRule? {
        escalations.first { $0.to.contains(channel) }
    }

    /// Creates a template.
    public init(code: String, name: String, category: TemplateCategory = .transactional,
                status: TemplateStatus = .enabled, declaredParameters: [ParameterDeclaration]? = nil,
                base: VariantSet, locales: [String: VariantSet] = [:], file: String = "") {
        self.code = code
        self.name = name
        self.category = category
        self.status = status
        self.declaredParameters = declaredParameters
        self.base = base
        self.locales = locales
        self.file = file
        resolveParameters()
    }

    /// Every placeholder used in any field of any variant or locale, in order of first use.
    public var placeholders: [String] {
        var seen = Set<String>()
        var names: [String] = []
        let sets = [base] + locales.keys.sorted().compactMap { locales[$0] }
        for set in sets {
            for text in set.texts {
                for name in text.placeholders where seen.insert(name).inserted {
                    names.append(name)
                }
            }
        }
        return names
    }

    /// The rule for every parameter: declared ones as declared, the rest required.
    /// Kept up to date as the template changes, since rendering reads it for every row.
    public private(set) var parameters: [ParameterDeclaration] = []
    /// The names of `parameters`.
    public private(set) var parameterNames: Set<String> = []

    private mutating func resolveParameters() {
        parameters = declaredParameters ?? placeholders.map { ParameterDeclaration(name: $0) }
        parameterNames = Set(parameters.map(\.name))
    }

    /// Channels this template can send on, in any locale.
    public var channels: [Channel] {
        Channel.allCases.filter { channel in
            base.has(channel) || locales.values.contains { $0.has(channel) }
        }
    }

    /// The variants for `locale`, trying the full tag, then its language, then the base:
    /// `zh-CN` → `zh-CN`, `zh` → base. Tags match case-insensitively and `_` equals `-`.
    /// Returns the matched locale key (nil for the base) and its variants.
    public func variants(for locale: String?, channel: Channel) -> (locale: String?, variants: VariantSet) {
        for candidate in Self.fallbackChain(locale) {
            if let key = locales.keys.first(where: { Self.normalize($0) == candidate }),
               let set = locales[key], set.has(channel) {
                return (key, set)
            }
        }
        return (nil, base)
    }

    static func fallbackChain(_ locale: String?) -> [String] {
        guard let locale, !locale.isEmpty else { return [] }
        var parts = normalize(locale).split(separator: "-").map(String.init)
        var chain: [String] = []
        while !parts.isEmpty {
            chain.append(parts.joined(separator: "-"))
            parts.removeLast()
        }
        return chain
    }

    static func normalize(_ locale: String) -> String {
        locale.replacingOccurrences(of: "_", with: "-").lowercased()
    }
}

/// A name a template uses that herald.yaml must define.
public struct ConfigurationReference: Sendable, Hashable {
    /// What kind of entry is named.
    public enum Kind: String, Sendable, Hashable {
        case mailAccount = "mail account"
        case smsChannel = "sms channel"
        case officialAccountApp = "wechat app (official_account)"
        case miniProgramApp = "wechat app (mini_program)"
        case wecomApp = "wecom app"
        case wecomRobot = "wecom robot"
        case dingtalkApp = "dingtalk app"
        case dingtalkRobot = "dingtalk robot"
        case feishuApp = "feishu app"
        case feishuRobot = "feishu robot"
    }

    /// The kind of entry.
    public var kind: Kind
    /// The id named.
    public var id: String
    /// Where it was written.
    public var location: SourceLocation
}

/// Locations inside a template file that checks report on after loading.
public struct TemplateSourceMap: Sendable, Hashable {
    /// Every account, channel and app the template names.
    public var references: [ConfigurationReference] = []
    /// Where `status:` was written (or the top of the file).
    public var status: SourceLocation?
    /// Where the base sms variant's `content` was written.
    public var smsContent: SourceLocation?
    /// Where the wechat_mini variant's `data` was written.
    public var wechatMiniData: SourceLocation?
    /// Where the first variant of each chat platform (wecom, dingtalk) was written.
    public var chatVariants: [Channel: SourceLocation] = [:]

    /// Creates an empty map.
    public init() {}
}

/// One `escalate:` step of a template: after `after`, unless the row's first messages reached
/// `unless`, send the variants in `to` (held back until then).
public struct EscalationRule: Sendable, Hashable {
    /// How long after the first messages.
    public var after: Duration
    /// What makes it unnecessary.
    public var unless: EscalationCondition
    /// The variants it sends.
    public var to: [Channel]

    /// Creates a step.
    public init(after: Duration, unless: EscalationCondition, to: [Channel]) {
        self.after = after
        self.unless = unless
        self.to = to
    }
}
