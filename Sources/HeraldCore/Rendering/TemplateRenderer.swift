/// Why a template could not be rendered for a recipient.
public struct RenderError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Kind: Sendable, Hashable {
        case missingParameter(String)
        case noVariant(Channel)
    }

    private let kind: Kind
    /// The template's code.
    public let template: String

    /// A required parameter was absent or empty and has no default.
    public static func missingParameter(_ name: String, template: String) -> RenderError {
        RenderError(kind: .missingParameter(name), template: template)
    }

    /// The template has no variant for the channel.
    public static func noVariant(_ channel: Channel, template: String) -> RenderError {
        RenderError(kind: .noVariant(channel), template: template)
    }

    /// The missing parameter's name, if that is the problem.
    public var missingParameter: String? {
        if case let .missingParameter(name) = kind { return name }
        return nil
    }

    public var description: String {
        switch kind {
        case let .missingParameter(name):
            "missing required parameter '\(name)' for template '\(template)'"
        case let .noVariant(channel):
            "template '\(template)' has no \(channel.rawValue) variant"
        }
    }
}

/// Renders templates for one recipient: applies defaults, checks required parameters and
/// escapes each value for the field it lands in.
///
/// ```swift
/// let renderer = TemplateRenderer(smsSignatures: ["aliyun": "商城"])
/// let message = try renderer.render(template, channel: .mail,
///                                   parameters: ["orderId": "A1"], locale: "en").get()
/// ```
public struct TemplateRenderer: Sendable {
    /// Signature per SMS channel id, for lengths and previews.
    public var smsSignatures: [String: String]

    /// Creates a renderer.
    public init(smsSignatures: [String: String] = [:]) {
        self.smsSignatures = smsSignatures
    }

    /// Creates a renderer that knows the SMS signatures of `configuration`.
    public init(configuration: Configuration) {
        self.init(smsSignatures: configuration.smsChannels.compactMapValues(\.signature))
    }

    /// The values every placeholder of `template` gets: the given value when non-empty, else
    /// the declared default, else an error for a required parameter (or "" for an optional one).
    /// Extra parameters are kept so callers can log them.
    public func resolve(_ template: Template, parameters: [String: String]) -> Result<[String: String], RenderError> {
        var values = parameters
        for rule in template.parameters {
            if let given = parameters[rule.name], !given.isEmpty { continue }
            if let fallback = rule.defaultValue {
                values[rule.name] = fallback
            } else if rule.required {
                return .failure(.missingParameter(rule.name, template: template.code))
            } else {
                values[rule.name] = ""
            }
        }
        return .success(values)
    }

    /// The first required parameter that `parameters` leaves missing or empty, with no default.
    /// The same rule as `resolve`, without building the values.
    public func missingParameter(_ template: Template, parameters: [String: String]) -> String? {
        for rule in template.parameters where rule.required && rule.defaultValue == nil {
            if let given = parameters[rule.name], !given.isEmpty { continue }
            return rule.name
        }
        return nil
    }

    /// Renders the `channel` variant of `template` for a recipient with `locale`.
    public func render(_ template: Template, channel: Channel, parameters: [String: String],
                       locale: String? = nil) -> Result<RenderedMessage, RenderError> {
        let (matched, variants) = template.variants(for: locale, channel: channel)
        guard variants.has(channel) else { return .failure(.noVariant(channel, template: template.code)) }
        let values: [String: String]
        switch resolve(template, parameters: parameters) {
        case let .success(resolved): values = resolved
        case let .failure(error): return .failure(error)
        }
        guard let content = content(variants, channel: channel, values: values) else {
            return .failure(.noVariant(channel, template: template.code))
        }
        return .success(RenderedMessage(template: template.code, category: template.category,
                                        locale: matched, content: content))
    }

    private func content(_ variants: VariantSet, channel: Channel, values: [String: String]) -> RenderedContent? {
        switch channel {
        case .site:
            return variants.site.map { site in
                .site(RenderedSite(nickname: site.nickname?.render(values, escaping: .header),
                                   type: site.type, content: site.content.render(values, escaping: .plain)))
            }
        case .mail:
            return variants.mail.map { mail in
                .mail(RenderedMail(account: mail.account,
                                   nickname: mail.nickname?.render(values, escaping: .header),
                                   subject: mail.title.render(values, escaping: .header),
                                   html: mail.html?.render(values, escaping: .html),
                                   text: mail.text?.render(values, escaping: .plain),
                                   attachments: mail.attachments.map { $0.render(values, escaping: .header) },
                                   unsubscribe: mail.unsubscribe?.render(values, escaping: .header),
                                   fallbackAccounts: mail.fallbackAccounts.isEmpty ? nil : mail.fallbackAccounts))
            }
        case .sms:
            return variants.sms.map { sms in
                .sms(RenderedSMS(channels: sms.channels, apiTemplateID: sms.apiTemplateID,
                                 content: sms.content.render(values, escaping: .plain),
                                 signature: sms.channels.first.flatMap { smsSignatures[$0] },
                                 parameters: sms.content.placeholders.map { SMSParameter(name: $0, value: values[$0] ?? "") }))
            }
        case .wechatMP:
            return variants.wechatMP.map { .wechatMP(wechat($0, values: values)) }
        case .wechatMini:
            return variants.wechatMini.map { .wechatMini(wechat($0, values: values)) }
        case .wecom:
            return variants.wecom.map { .wecom(chat($0, values: values)) }
        case .dingtalk:
            return variants.dingtalk.map { .dingtalk(chat($0, values: values)) }
        case .feishu:
            return variants.feishu.map { .feishu(chat($0, values: values)) }
        }
    }

    private func chat(_ variant: ChatVariant, values: [String: String]) -> RenderedChat {
        // Values in markdown (a markdown message, an action card) cannot add markup; URLs and
        // plain text take them as given.
        let body: Escaping = variant.type == .markdown || variant.type == .actionCard ? .markdown : .plain
        var rendered = RenderedChat(app: variant.app, robot: variant.robot, type: variant.type, to: variant.to,
                            content: variant.content?.render(values, escaping: body),
                            title: variant.title?.render(values, escaping: .header),
                            description: variant.description?.render(values, escaping: .plain),
                            url: variant.url?.render(values, escaping: .header),
                            button: variant.button?.render(values, escaping: .header),
                            picture: variant.picture?.render(values, escaping: .header))
        rendered.idType = variant.idType
        return rendered
    }

    private func wechat(_ variant: WeChatVariant, values: [String: String]) -> RenderedWeChat {
        RenderedWeChat(app: variant.app, templateID: variant.templateID,
                       url: variant.url?.render(values, escaping: .plain),
                       page: variant.page?.render(values, escaping: .plain),
                       miniprogramAppID: variant.miniprogramAppID,
                       miniprogramPage: variant.miniprogramPage?.render(values, escaping: .plain),
                       data: variant.data.map {
                           RenderedWeChatItem(key: $0.key, value: $0.value.render(values, escaping: .plain), color: $0.color)
                       }, miniprogramState: variant.miniprogramState, lang: variant.lang)
    }
}
