/// A rendered 站内信.
public struct RenderedSite: Sendable, Hashable, Codable {
    /// Sender name shown in the inbox.
    public var nickname: String?
    /// Message type for the product.
    public var type: String
    /// The body.
    public var content: String

    /// Creates a value from its parts.
    public init(nickname: String? = nil, type: String, content: String) {
        self.nickname = nickname
        self.type = type
        self.content = content
    }
}

/// A rendered email, before MIME encoding.
public struct RenderedMail: Sendable, Hashable, Codable {
    /// The account id from the template.
    public var account: String
    /// Accounts to fail over to, in order (`account: [a, b]`); nil for one account.
    public var fallbackAccounts: [String]?
    /// Sender display name, header-safe.
    public var nickname: String?
    /// Subject, header-safe.
    public var subject: String
    /// HTML body with parameters HTML-escaped.
    public var html: String?
    /// Plain-text body.
    public var text: String?
    /// Attachment paths inside the workspace: the template's, then the row's.
    public var attachments: [String]
    /// One-click unsubscribe URL, if the template or the row gives one.
    public var unsubscribe: String?

    /// Creates a value from its parts.
    public init(account: String, nickname: String? = nil, subject: String, html: String? = nil, text: String? = nil,
                attachments: [String] = [], unsubscribe: String? = nil, fallbackAccounts: [String]? = nil) {
        self.account = account
        self.fallbackAccounts = fallbackAccounts
        self.nickname = nickname
        self.subject = subject
        self.html = html
        self.text = text
        self.attachments = attachments
        self.unsubscribe = unsubscribe
    }
}

/// One named value passed to an SMS provider, in the order the content uses it.
public struct SMSParameter: Sendable, Hashable, Codable {
    /// Placeholder name (Aliyun's `TemplateParam` key).
    public var name: String
    /// The value.
    public var value: String

    /// Creates a value from its parts.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// A rendered SMS.
public struct RenderedSMS: Sendable, Hashable, Codable {
    /// Channel ids in failover order.
    public var channels: [String]
    /// The provider's template id.
    public var apiTemplateID: String
    /// The text without signature.
    public var content: String
    /// The signature of the first channel, if herald.yaml gives one.
    public var signature: String?
    /// Parameters in order of first use in `content` (Tencent's positional `{1}`, `{2}`…).
    public var parameters: [SMSParameter]

    /// `【签名】content`, as the phone shows it.
    public var signedText: String {
        guard let signature, !signature.isEmpty else { return content }
        return "【\(signature)】\(content)"
    }

    /// Length and parts of the signed text.
    public var length: SMSLength { SMSLength.measure(signedText) }

    /// Creates a value from its parts.
    public init(channels: [String], apiTemplateID: String, content: String, signature: String? = nil, parameters: [SMSParameter]) {
        self.channels = channels
        self.apiTemplateID = apiTemplateID
        self.content = content
        self.signature = signature
        self.parameters = parameters
    }
}

/// One rendered WeChat data field.
public struct RenderedWeChatItem: Sendable, Hashable, Codable {
    /// The template's data key (`keyword1`, `thing2`).
    public var key: String
    /// The rendered value.
    public var value: String
    /// A color for official-account template messages (`#173177`).
    public var color: String?

    /// Creates a value from its parts.
    public init(key: String, value: String, color: String? = nil) {
        self.key = key
        self.value = value
        self.color = color
    }
}

/// A rendered WeChat template or subscribe message.
public struct RenderedWeChat: Sendable, Hashable, Codable {
    /// The app id in herald.yaml that sends it.
    public var app: String
    /// WeChat's template id.
    public var templateID: String
    /// The page opened from an official-account message.
    public var url: String?
    /// The mini-program page a subscribe message opens.
    public var page: String?
    /// The mini program an official-account message opens, when it opens one.
    public var miniprogramAppID: String?
    /// Its page.
    public var miniprogramPage: String?
    /// The data items, in template order.
    public var data: [RenderedWeChatItem]
    /// `developer`, `trial` or `formal` for subscribe messages.
    public var miniprogramState: String?
    /// The language of a subscribe message (`zh_CN`).
    public var lang: String?

    /// Creates a value from its parts.
    public init(app: String, templateID: String, url: String? = nil, page: String? = nil, miniprogramAppID: String? = nil,
                miniprogramPage: String? = nil, data: [RenderedWeChatItem], miniprogramState: String? = nil, lang: String? = nil) {
        self.miniprogramState = miniprogramState
        self.lang = lang
        self.app = app
        self.templateID = templateID
        self.url = url
        self.page = page
        self.miniprogramAppID = miniprogramAppID
        self.miniprogramPage = miniprogramPage
        self.data = data
    }
}

/// A rendered message of a workplace chat platform (企业微信, 钉钉): an app message or a group robot's.
public struct RenderedChat: Sendable, Hashable, Codable {
    /// The app (`app:`), for app messages.
    public var app: String?
    /// The robot (`robot:`), for robot messages.
    public var robot: String?
    /// text, markdown, textcard or news.
    public var type: ChatVariant.MessageType
    /// Who the address names (app messages).
    public var to: ChatVariant.Target
    /// 飞书: what the address is (`receive_id_type`), nil for open_id.
    public var idType: String?
    /// text and markdown.
    public var content: String?
    /// textcard and news.
    public var title: String?
    /// textcard and news.
    public var description: String?
    /// textcard and news.
    public var url: String?
    /// textcard's button.
    public var button: String?
    /// news's picture.
    public var picture: String?

    /// The account: the app or the robot.
    public var account: String { app ?? robot ?? "" }

    /// Creates a value from its parts.
    public init(app: String? = nil, robot: String? = nil, type: ChatVariant.MessageType, to: ChatVariant.Target = .user,
                content: String? = nil, title: String? = nil, description: String? = nil, url: String? = nil,
                button: String? = nil, picture: String? = nil) {
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

    /// The text a person reads, for previews and the file transport.
    public var readable: String {
        [title, description, content, url].compactMap { $0 }.joined(separator: "\n")
    }
}

/// The channel-specific part of a rendered message.
public enum RenderedContent: Sendable, Hashable {
    case site(RenderedSite)
    case mail(RenderedMail)
    case sms(RenderedSMS)
    case wechatMP(RenderedWeChat)
    case wechatMini(RenderedWeChat)
    case wecom(RenderedChat)
    case dingtalk(RenderedChat)
    case feishu(RenderedChat)

    /// The channel this content goes out on.
    public var channel: Channel {
        switch self {
        case .site: .site
        case .mail: .mail
        case .sms: .sms
        case .wechatMP: .wechatMP
        case .wechatMini: .wechatMini
        case .wecom: .wecom
        case .dingtalk: .dingtalk
        case .feishu: .feishu
        }
    }
}

/// A template rendered for one recipient and channel.
public struct RenderedMessage: Sendable, Hashable, Codable {
    /// Template code.
    public var template: String
    /// Template category.
    public var category: TemplateCategory
    /// The locale whose variant was used, or nil for the base.
    public var locale: String?
    /// The content.
    public var content: RenderedContent

    /// The channel.
    public var channel: Channel { content.channel }

    /// Creates a value from its parts.
    public init(template: String, category: TemplateCategory, locale: String? = nil, content: RenderedContent) {
        self.template = template
        self.category = category
        self.locale = locale
        self.content = content
    }
}
