import HeraldCore

extension ChannelSupport {
    /// Every provider and content rule Herald ships: the settings of `smtp`, `aliyun`, `tencent`,
    /// `webhook` and `wechat` transports, and WeChat's subscribe-value rules. `herald` opens every
    /// workspace with it (`Workspace.open(at:channels:)`, `WorkspaceCheck.run(root:channels:)`).
    public static let builtIn = ChannelSupport(
        settings: [SMTPSettingsReader(), SMSProviderSettingsReader(.aliyun), SMSProviderSettingsReader(.tencent),
                   SMSProviderSettingsReader(.webhook), WeChatAppSettingsReader(), WeComSettingsReader(.wecom),
                   WeComSettingsReader(.wecomRobot), DingTalkSettingsReader(.dingtalk), DingTalkSettingsReader(.dingtalkRobot),
                   FeishuSettingsReader(.feishu), FeishuSettingsReader(.feishuRobot)],
        contentRules: [SubscribeValueRules(), WeComContentRules()])
}
