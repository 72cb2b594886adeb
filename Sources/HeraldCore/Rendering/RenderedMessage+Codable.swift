/// Rendered messages are stored in spool files as JSON: `{"kind": "mail", "mail": {...}}`.
extension RenderedContent: Codable {
    private enum CodingKeys: String, CodingKey {
        case kind, site, mail, sms, wechat, wecom, dingtalk, feishu
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(Channel.self, forKey: .kind)
        switch kind {
        case .site: self = .site(try container.decode(RenderedSite.self, forKey: .site))
        case .mail: self = .mail(try container.decode(RenderedMail.self, forKey: .mail))
        case .sms: self = .sms(try container.decode(RenderedSMS.self, forKey: .sms))
        case .wechatMP: self = .wechatMP(try container.decode(RenderedWeChat.self, forKey: .wechat))
        case .wechatMini: self = .wechatMini(try container.decode(RenderedWeChat.self, forKey: .wechat))
        case .wecom: self = .wecom(try container.decode(RenderedChat.self, forKey: .wecom))
        case .dingtalk: self = .dingtalk(try container.decode(RenderedChat.self, forKey: .dingtalk))
        case .feishu: self = .feishu(try container.decode(RenderedChat.self, forKey: .feishu))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(channel, forKey: .kind)
        switch self {
        case let .site(site): try container.encode(site, forKey: .site)
        case let .mail(mail): try container.encode(mail, forKey: .mail)
        case let .sms(sms): try container.encode(sms, forKey: .sms)
        case let .wechatMP(wechat), let .wechatMini(wechat): try container.encode(wechat, forKey: .wechat)
        case let .wecom(wecom): try container.encode(wecom, forKey: .wecom)
        case let .dingtalk(dingtalk): try container.encode(dingtalk, forKey: .dingtalk)
        case let .feishu(feishu): try container.encode(feishu, forKey: .feishu)
        }
    }
}
