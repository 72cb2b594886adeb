import Foundation

extension PipelineStage {
    /// **render**: renders each delivery's variant for the recipient's locale. For mail, adds
    /// the row's attachments and unsubscribe link and, with a policy, checks every attachment is
    /// a file inside the workspace and the message fits its account's `max_size`.
    /// With `oneClick` (`mail.unsubscribe`), marketing mail and templates asking `unsubscribe:
    /// one-click` get a signed one-click link (RFC 8058); a row's `unsubscribe_url` still wins.
    public static func render(with renderer: TemplateRenderer, attachments policy: AttachmentPolicy? = nil,
                              oneClick: OneClickUnsubscribe? = nil) -> PipelineStage {
        .eachDelivery(.render) { job, delivery throws(StageFailure) in
            guard let template = job.template else { return }
            switch renderer.render(template, channel: delivery.channel, parameters: job.row.parameters, locale: job.row.recipient.locale) {
            case var .success(message):
                if case var .wechatMini(wechat) = message.content {
                    // Subscribe messages are refused by WeChat (47003) when a value breaks its type's rule: check first.
                    let truncate = template.variants(for: job.row.recipient.locale, channel: .wechatMini).variants.wechatMini?.truncate ?? false
                    for index in wechat.data.indices {
                        switch SubscribeValueRules.check(key: wechat.data[index].key, value: wechat.data[index].value, truncate: truncate) {
                        case let .success(value): wechat.data[index].value = value
                        case let .failure(failure): throw failure
                        }
                    }
                    message.content = .wechatMini(wechat)
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
        }
    }
}
