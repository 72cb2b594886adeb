import Foundation
import HeraldCore

/// Credentials and endpoint of an SMS provider channel.
public struct SMSProviderSettings: ProviderSettings, Hashable {
    /// Base URL override (tests, private regions); default per provider.
    public var endpoint: String?
    /// Aliyun AccessKey id / Tencent SecretId.
    public var keyID: String?
    /// Aliyun AccessKey secret / Tencent SecretKey / webhook HMAC secret.
    public var secret: Secret?
    /// Tencent SmsSdkAppId.
    public var sdkAppID: String?
    /// Tencent region, default ap-guangzhou.
    public var region: String
    /// Webhook URL.
    public var url: String?

    /// Creates settings.
    public init(endpoint: String? = nil, keyID: String? = nil, secret: Secret? = nil, sdkAppID: String? = nil,
                region: String = "ap-guangzhou", url: String? = nil) {
        self.endpoint = endpoint
        self.keyID = keyID
        self.secret = secret
        self.sdkAppID = sdkAppID
        self.region = region
        self.url = url
    }
}

/// Reads the credentials of an SMS provider channel, only from the environment: Aliyun's
/// `access_key_id`/`access_key_secret`, Tencent's `secret_id`/`secret_key`/`sdk_app_id`/`region`,
/// a webhook's `url`/`secret`; `endpoint` overrides the provider's host. Aliyun and Tencent
/// channels need their approved `signature` (签名).
public struct SMSProviderSettingsReader: ProviderSettingsReader {
    /// `aliyun`, `tencent` or `webhook`.
    public let kind: TransportKind

    /// The reader of `kind`.
    public init(_ kind: TransportKind) {
        self.kind = kind
    }

    public var keys: [String] {
        switch kind {
        case .aliyun: ["endpoint", "access_key_id", "access_key_secret"]
        case .tencent: ["endpoint", "secret_id", "secret_key", "sdk_app_id", "region"]
        default: ["endpoint", "url", "secret"]
        }
    }

    public func read(_ m: SettingsMapping) -> any ProviderSettings {
        var settings = SMSProviderSettings(endpoint: m.text("endpoint"))
        switch kind {
        case .aliyun:
            settings.keyID = m.text("access_key_id", required: true)
            settings.secret = m.secret("access_key_secret", missingHint: "add `access_key_secret: ${HERALD_ALIYUN_SECRET}`")
        case .tencent:
            settings.keyID = m.text("secret_id", required: true)
            settings.secret = m.secret("secret_key", missingHint: "add `secret_key: ${HERALD_TENCENT_SECRET_KEY}`")
            settings.sdkAppID = m.text("sdk_app_id", required: true)
            settings.region = m.text("region") ?? "ap-guangzhou"
        default:
            settings.url = m.text("url", required: true)
            settings.secret = m.secret("secret")
        }
        if kind != .webhook, !m.has("signature") {
            m.missing("signature", hint: "add `signature:` with the approved 签名")
        }
        return settings
    }
}

extension SMSChannel {
    /// The provider's credentials and endpoint, as `SMSProviderSettingsReader` read them.
    public var providerSettings: SMSProviderSettings? { provider as? SMSProviderSettings }
}
