import Foundation
import HeraldCore

/// Builds the transport of every account, channel and app from herald.yaml: `file`, `discard`,
/// `smtp` for mail accounts, the SMS router over Aliyun, Tencent Cloud and webhook gateways, the
/// WeChat transport for apps, the 企业微信 transport for WeCom apps and robots, and the 站内信
/// inbox for the site channel.
public enum Transports {
    /// The transports `configuration` names, for the workspace at `root`.
    /// Also removes the file transport's leftover temporaries, so call it under the run lock.
    /// `inbox` is the site channel's transport for `transport: inbox` (HeraldInbox's `InboxTransport`);
    /// without one, such a site channel has no transport and its messages fail naming it.
    public static func make(root: URL, configuration: Configuration, tokens: (any AccessTokenStore)? = nil,
                            inbox: (any Transport)? = nil) -> TransportSet {
        FileTransport.removeTemporaries(root: root)
        let file = FileTransport(root: root, configuration: configuration, concurrency: configuration.concurrency)
        let discard = DiscardTransport(concurrency: 1)
        func pick(_ kind: TransportKind) -> (any Transport)? {
            switch kind {
            case .file, .smtp, .aliyun, .tencent, .webhook, .wechat, .wecom, .wecomRobot, .dingtalk, .dingtalkRobot, .feishu, .feishuRobot: file
            case .discard: discard
            case .inbox: inbox
            }
        }
        var set = TransportSet()
        if let site = pick(configuration.site.transport) { set.set(site, channel: .site, account: "site") }
        for (id, account) in configuration.mailAccounts {
            if account.transport == .smtp, let smtp = account.smtp {
                set.set(SMTPTransport(account: account, settings: smtp, root: root, timeZone: configuration.timeZone),
                        channel: .mail, account: id)
            } else if let transport = pick(account.transport) {
                set.set(transport, channel: .mail, account: id)
            }
        }
        // Every SMS channel goes through the router, which fails over along the template's channel list.
        let local = configuration.smsChannels.filter { !$0.value.transport.isSMSProvider }.compactMapValues { pick($0.transport) }
        let router = SMSRouter(configuration: configuration, local: local)
        for id in configuration.smsChannels.keys { set.set(router, channel: .sms, account: id) }
        for (id, app) in configuration.wechatApps {
            let channel = app.kind.channel
            if app.transport == .wechat {
                set.set(WeChatTransport(app: app, tokens: tokens ?? MemoryAccessTokenStore(), concurrency: configuration.concurrency),
                        channel: channel, account: id)
            } else if let transport = pick(app.transport) {
                set.set(transport, channel: channel, account: id)
            }
        }
        for (id, app) in configuration.wecomApps {
            if app.transport == .wecom || app.transport == .wecomRobot {
                set.set(WeComTransport(app: app, tokens: tokens ?? MemoryAccessTokenStore(), concurrency: configuration.concurrency),
                        channel: .wecom, account: id)
            } else if let transport = pick(app.transport) {
                set.set(transport, channel: .wecom, account: id)
            }
        }
        for (id, app) in configuration.dingtalkApps {
            if app.transport == .dingtalk || app.transport == .dingtalkRobot {
                set.set(DingTalkTransport(app: app, tokens: tokens ?? MemoryAccessTokenStore(), concurrency: configuration.concurrency),
                        channel: .dingtalk, account: id)
            } else if let transport = pick(app.transport) {
                set.set(transport, channel: .dingtalk, account: id)
            }
        }
        for (id, app) in configuration.feishuApps {
            if app.transport == .feishu || app.transport == .feishuRobot {
                set.set(FeishuTransport(app: app, tokens: tokens ?? MemoryAccessTokenStore(), concurrency: configuration.concurrency),
                        channel: .feishu, account: id)
            } else if let transport = pick(app.transport) {
                set.set(transport, channel: .feishu, account: id)
            }
        }
        return set
    }
}
