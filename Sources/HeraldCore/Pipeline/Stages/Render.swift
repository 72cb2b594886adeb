import Foundation

extension PipelineStage {
    /// **render**: renders each delivery's variant for the recipient's locale. For mail, adds
    /// the row's attachments and unsubscribe link and, with a policy, checks every attachment is
    /// a file inside the workspace and the message fits its account's `max_size`.
    /// With `oneClick` (`mail.unsubscribe`), marketing mail and templates asking `unsubscribe:
    /// one-click` get a signed one-click link (RFC 8058); a row's `unsubscribe_url` still wins.
    /// `contentRules` of the delivery's channel check what was rendered (``ContentRules``).
    public static func render(with renderer: TemplateRenderer, attachments policy: AttachmentPolicy? = nil,
                              oneClick: OneClickUnsubscribe? = nil, contentRules: [any ContentRules] = []) -> PipelineStage {
        .eachDelivery(.render) { job, delivery throws(StageFailure) in
            guard let template = job.template else { return }
            switch renderer.render(template, channel: delivery.channel, parameters: job.row.parameters, locale: job.row.recipient.locale) {
            case var .success(message):
                // A provider refuses content that breaks its channel's rules (WeChat 47003): check first.
                for rules in contentRules where rules.channel == delivery.channel {
                    switch rules.apply(to: message, template: template, locale: job.row.recipient.locale) {
                    case let .success(checked): message = checked
                    case let .failure(failure): throw failure
                    }
                }
                if case var .mail(mail) = message.content {
                    mail.attachments += job.row.mail.attachments
                    let asksOneClick = mail.unsubscribe == OneClickUnsubscribe.templateValue
                    if asksOneClick { mail.unsubscribe = nil }
                    if let oneClick, asksOneClick || template.category == .marketing {
                        mail.unsubscribe = oneClick.link(address: delivery.address, category: template.category,
                                                         tenant: job.row.recipient.tenantID ?? "0")
                    }
                    mail.unsubscribe = job.row.mail.unsubscribeURL ?? mail.unsubscribe
                    if let link = mail.unsubscribe, let problem = UnsubscribeLink.problem(link) {
                        throw StageFailure(.invalid, code: .invalidUnsubscribeURL, problem)
                    }
                    if let policy, let failure = policy.check(mail) { throw failure }

                    message.content = .mail(mail)
                }
                delivery.message = message
                delivery.account = Self.account(of: message)
            case let .failure(error):
                throw StageFailure(.invalid, code: error.missingParameter == nil ? .renderFailed : .missingParameter, error.description)
            }
        }
    }

    static func account(of message: RenderedMessage) -> String {
        switch message.content {
        case .site: "site"
        case let .mail(mail): mail.account
        case let .sms(sms): sms.channels.first ?? ""
        case let .wechatMP(wechat), let .wechatMini(wechat): wechat.app
        case let .wecom(chat), let .dingtalk(chat), let .feishu(chat): chat.account
        }
    }
}
