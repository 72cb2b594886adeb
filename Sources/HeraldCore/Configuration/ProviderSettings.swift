import Foundation

/// What a provider transport kind reads from its account's herald.yaml mapping (an SMTP server,
/// an SMS provider's credentials, a WeChat app secret). The types live beside their transports
/// in HeraldChannels; Core keeps them as `any ProviderSettings` on the account, channel or app.
public protocol ProviderSettings: Sendable {}

/// Reads the settings of one provider transport kind from herald.yaml, reporting problems at
/// their file, line and key. HeraldChannels has one per kind that needs settings (`smtp`,
/// `aliyun`, `tencent`, `webhook`, `wechat`).
///
/// ```swift
/// struct WebhookSettingsReader: ProviderSettingsReader {
///     var kind: TransportKind { .webhook }
///     var keys: [String] { ["url", "secret", "endpoint"] }
///     func read(_ mapping: SettingsMapping) -> any ProviderSettings {
///         SMSProviderSettings(secret: mapping.secret("secret"), url: mapping.text("url", required: true))
///     }
/// }
/// ```
public protocol ProviderSettingsReader: Sendable {
    /// The transport kind whose settings it reads.
    var kind: TransportKind { get }
    /// The herald.yaml keys it reads, beside the section's own (an unknown key is an error).
    var keys: [String] { get }
    /// The settings of one account, channel or app; problems go to the mapping's diagnostics.
    func read(_ mapping: SettingsMapping) -> any ProviderSettings
}

/// What a channel module brings to a workspace: the settings each provider transport kind
/// reads, and the content rules of its channels. HeraldChannels' `ChannelSupport.builtIn` has
/// every provider and rule Herald ships; `herald` opens every workspace with it.
public struct ChannelSupport: Sendable {
    /// A reader per provider transport kind.
    public var settings: [any ProviderSettingsReader]
    /// Rules for rendered content, by channel.
    public var contentRules: [any ContentRules]

    /// Support made of `settings` readers and `contentRules`.
    public init(settings: [any ProviderSettingsReader] = [], contentRules: [any ContentRules] = []) {
        self.settings = settings
        self.contentRules = contentRules
    }

    /// No provider and no rule: only the `file`, `discard` and `inbox` transports can be configured.
    public static let none = ChannelSupport()

    /// The reader of `kind`, if any.
    func reader(of kind: TransportKind) -> (any ProviderSettingsReader)? {
        settings.first { $0.kind == kind }
    }

    /// The keys the readers of the kinds of one herald.yaml section read (`"mail accounts"`).
    func keys(section: String) -> [String] {
        settings.filter { $0.kind.section == section }.flatMap(\.keys)
    }
}

/// One account's, channel's or app's herald.yaml mapping, as a settings reader sees it: values
/// read with the same rules and messages as the rest of herald.yaml, secrets only as `${ENV}`.
public struct SettingsMapping {
    let loader: ConfigurationLoader
    let mapping: YAMLMapping
    /// The id of the account, channel or app (`exmail`).
    public let id: String
    /// How messages name it (`mail account 'exmail'`).
    public let owner: String

    /// The workspace folder, for paths written relative to it.
    public var root: URL? { loader.root }

    /// Whether the mapping has `key`.
    public func has(_ key: String) -> Bool {
        mapping[key] != nil
    }

    /// A text value; a missing `required` one is an error.
    public func text(_ key: String, required: Bool = false) -> String? {
        loader.reader.string(mapping, key, required: required)
    }

    /// A `${NAME}` secret. A missing one is an error when `missingHint` says how to add it.
    public func secret(_ key: String, missingHint: String? = nil) -> Secret? {
        if let missingHint, mapping[key] == nil { loader.reader.missing(key, in: mapping, hint: missingHint) }
        return loader.secret(mapping, key, owner: owner)
    }

    /// A whole number within `range`.
    public func integer(_ key: String, range: ClosedRange<Int>) -> Int? {
        loader.integer(mapping, key, range: range)
    }

    /// A duration (`30s`, `5m`).
    public func duration(_ key: String) -> Duration? {
        loader.duration(mapping, key)
    }

    /// `true` or `false`.
    public func bool(_ key: String) -> Bool? {
        loader.reader.bool(mapping, key)
    }

    /// One of `T`'s names.
    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, default fallback: T) -> T where T.RawValue == String {
        loader.reader.choice(mapping, key, default: fallback)
    }

    /// Says `key` is missing, with how to add it.
    public func missing(_ key: String, hint: String? = nil) {
        loader.reader.missing(key, in: mapping, hint: hint)
    }

    /// An error at `key`'s value, or at the whole mapping when `key` is nil or absent.
    public func error(_ message: String, at key: String? = nil) {
        loader.reader.error(message, at: key.flatMap { mapping[$0] } ?? mapping.node)
    }
}
