import Foundation
import HeraldCore

/// What a `transport: wechat` app needs beside its `app_id`: the app secret, from the
/// environment, and an endpoint override (tests).
public struct WeChatAppSettings: ProviderSettings, Hashable {
    /// The app secret (`${ENV}`).
    public var appSecret: Secret?
    /// Base URL override (tests); default https://api.weixin.qq.com.
    public var endpoint: String?

    /// Creates settings.
    public init(appSecret: Secret? = nil, endpoint: String? = nil) {
        self.appSecret = appSecret
        self.endpoint = endpoint
    }
}

/// Reads `transport: wechat` apps: `app_id` must be given, `app_secret` as `${ENV}`, `endpoint` optional.
public struct WeChatAppSettingsReader: ProviderSettingsReader {
    /// A reader.
    public init() {}

    public var kind: TransportKind { .wechat }
    public var keys: [String] { ["app_secret", "endpoint"] }

    public func read(_ m: SettingsMapping) -> any ProviderSettings {
        if !m.has("app_id") { m.missing("app_id", hint: "add `app_id: wx…`") }
        return WeChatAppSettings(appSecret: m.secret("app_secret", missingHint: "add `app_secret: ${HERALD_WECHAT_SECRET}`"),
                                 endpoint: m.text("endpoint"))
    }
}

extension WeChatApp {
    /// The app secret and endpoint of a `transport: wechat` app, as `WeChatAppSettingsReader` read them.
    public var settings: WeChatAppSettings { provider as? WeChatAppSettings ?? WeChatAppSettings() }
}
