import Foundation
import Yams

/// Reads herald.yaml into a `Configuration`, reporting problems at their line and column.
struct ConfigurationLoader {
    static let topLevelKeys = ["timezone", "inbox", "pipeline", "log", "site", "mail", "sms", "wechat"]

    let reader: YAMLReader
    let environment: [String: String]

    init(file: String, environment: [String: String]) {
        self.reader = YAMLReader(file: file)
        self.environment = environment
    }

    func load(_ text: String) -> (Configuration?, [Diagnostic]) {
        guard let root = reader.parse(text),
              let top = reader.mapping(root, "herald.yaml", allowed: Self.topLevelKeys) else {
            return (nil, reader.diagnostics)
        }
        var configuration = Configuration()
        if let node = top["timezone"], let name = reader.string(node, "'timezone'") {
            if let zone = TimeZone(identifier: name) {
                configuration.timeZone = zone
            } else {
                reader.error("unknown time zone '\(name)'; use an IANA name such as Asia/Shanghai", at: node)
            }
        }
        if let node = top["inbox"], let inbox = reader.mapping(node, "inbox", allowed: ["settle"]) {
            if let settle = duration(inbox, "settle") { configuration.settle = settle }
        }
        if let node = top["pipeline"], let pipeline = reader.mapping(node, "pipeline", allowed: ["concurrency", "chunk"]) {
            if let value = integer(pipeline, "concurrency", range: 1...1024) { configuration.concurrency = value }
            if let value = integer(pipeline, "chunk", range: 1...100_000) { configuration.chunkSize = value }
        }
        if let node = top["log"], let log = reader.mapping(node, "log", allowed: ["recipients"]) {
            configuration.recipientMasking = reader.choice(log, "recipients", default: .masked)
        }
        if let node = top["site"], let site = reader.mapping(node, "site", allowed: ["transport"]) {
            configuration.site = SiteSettings(transport: reader.choice(site, "transport", default: .file))
        }
        configuration.mailAccounts = entries(top, section: "mail", group: "accounts", what: "mail account") { id, m in
            let from = reader.string(m, "from", required: true)
            if let from, let node = m["from"], !Self.looksLikeAddress(from) {
                reader.error("'from' of mail account '\(id)' is '\(from)', not an email address", at: node)
            }
            return MailAccount(id: id, transport: reader.choice(m, "transport", default: .file),
                               from: from ?? "", replyTo: reader.string(m, "reply_to"))
        }
        configuration.smsChannels = entries(top, section: "sms", group: "channels", what: "sms channel") { id, m in
            SMSChannel(id: id, transport: reader.choice(m, "transport", default: .file),
                       signature: reader.string(m, "signature"))
        }
        configuration.wechatApps = entries(top, section: "wechat", group: "apps", what: "wechat app") { id, m in
            WeChatApp(id: id, transport: reader.choice(m, "transport", default: .file),
                      kind: reader.choice(m, "kind", default: .officialAccount),
                      appID: reader.string(m, "app_id"))
        }
        return (reader.diagnostics.hasErrors ? nil : configuration, reader.diagnostics)
    }

    static func allowedKeys(_ what: String) -> [String] {
        switch what {
        case "mail account": ["transport", "from", "reply_to"]
        case "sms channel": ["transport", "signature"]
        default: ["transport", "kind", "app_id"]
        }
    }

    /// Reads `section.group.<id>` mappings, e.g. `mail.accounts.default`.
    private func entries<T>(_ top: YAMLMapping, section: String, group: String, what: String,
                            build: (String, YAMLMapping) -> T) -> [String: T] {
        guard let node = top[section], let sectionMapping = reader.mapping(node, section, allowed: [group]) else {
            return [:]
        }
        guard let groupNode = sectionMapping[group], let groupMapping = reader.mapping(groupNode, "\(section).\(group)") else {
            return [:]
        }
        var result: [String: T] = [:]
        for entry in groupMapping.entries {
            guard let mapping = reader.mapping(entry.value, "\(what) '\(entry.key)'", allowed: Self.allowedKeys(what)) else {
                continue
            }
            if mapping["transport"] == nil {
                reader.error("\(what) '\(entry.key)' has no 'transport'; add `transport: file`", at: entry.keyNode)
            }
            result[entry.key] = build(entry.key, mapping)
        }
        return result
    }

    func duration(_ mapping: YAMLMapping, _ key: String) -> Duration? {
        guard let node = mapping[key], let text = reader.string(node, "'\(key)' in \(mapping.what)") else { return nil }
        guard let value = DurationText.parse(text) else {
            reader.error("'\(key)' in \(mapping.what) is '\(text)'; write a duration like 500ms, 2s, 5m, 1h or 30d", at: node)
            return nil
        }
        return value
    }

    func integer(_ mapping: YAMLMapping, _ key: String, range: ClosedRange<Int>) -> Int? {
        guard let node = mapping[key], let text = reader.string(node, "'\(key)' in \(mapping.what)") else { return nil }
        guard let value = Int(text), range.contains(value) else {
            reader.error("'\(key)' in \(mapping.what) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'", at: node)
            return nil
        }
        return value
    }

    static func looksLikeAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !text.contains(" ")
    }
}
