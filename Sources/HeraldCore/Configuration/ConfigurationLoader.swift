import Foundation
import Yams

/// Reads herald.yaml into a `Configuration`, reporting problems at their line and column.
/// One loader reads one file.
final class ConfigurationLoader {
    static let topLevelKeys = ["timezone", "inbox", "pipeline", "log", "retry", "caps", "quiet_hours", "preferences",
                               "watch", "site", "mail", "sms", "wechat", "wecom", "dingtalk", "feishu", "serve", "store", "worker"]

    let reader: YAMLReader
    let environment: [String: String]
    let secretsOptional: Bool
    let root: URL?
    /// The settings readers of provider transports.
    let channels: ChannelSupport

    init(file: String, environment: [String: String], secretsOptional: Bool = false, root: URL? = nil,
         channels: ChannelSupport = .none) {
        self.reader = YAMLReader(file: file)
        reader.refusesEnvironmentReferences = true
        self.environment = environment
        self.secretsOptional = secretsOptional
        self.root = root
        self.channels = channels
    }

    /// `retry:` mappings of accounts, channels and apps, read once the top-level policy is known.
    private var retryOverrides: [TransportKey: (Node, String)] = [:]

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
                reader.error("unknown time zone \(Echo.quoted(name)); use an IANA name such as Asia/Shanghai", at: node)
            }
        }
        if let node = top["inbox"], let inbox = reader.mapping(node, "inbox", allowed: ["settle"]) {
            if let settle = duration(inbox, "settle") { configuration.settle = settle }
        }
        if let node = top["pipeline"], let pipeline = reader.mapping(node, "pipeline", allowed: ["concurrency", "chunk", "burst_failures"]) {
            if let value = integer(pipeline, "concurrency", range: 1...1024) { configuration.concurrency = value }
            if let value = integer(pipeline, "chunk", range: 1...100_000) { configuration.chunkSize = value }
            if let value = integer(pipeline, "burst_failures", range: 0...1_000_000) { configuration.burstFailures = value }
        }
        if let node = top["retry"] { configuration.retry = retryPolicy(node, base: RetryPolicy(), owner: nil) }
        if let node = top["caps"] { readCaps(node, into: &configuration) }
        if let node = top["quiet_hours"], let mapping = reader.mapping(node, "quiet_hours", allowed: TemplateCategory.allCases.map(\.rawValue)) {
            for entry in mapping.entries {
                guard let category = TemplateCategory(rawValue: entry.key), let text = reader.string(entry.value, "quiet hours") else { continue }
                guard let window = QuietHours.parse(text) else {
                    reader.error("quiet hours of \(entry.key) are '\(text)'; write a local time window like \"21:00-08:00\"", at: entry.value)
                    continue
                }
                if category == .verification || category == .system {
                    reader.error("\(entry.key) messages are never held back; quiet hours apply to transactional and marketing", at: entry.keyNode)
                }
                configuration.quietHours[category] = window
            }
        }
        if let node = top["preferences"], let preferences = reader.mapping(node, "preferences", allowed: ["suppress_bounces"]) {
            if let value = reader.bool(preferences, "suppress_bounces") { configuration.suppressBounces = value }
        }
        if let node = top["watch"], let watch = reader.mapping(node, "watch", allowed: ["interval"]) {
            if let value = duration(watch, "interval") { configuration.watchInterval = value }
        }
        readStoreAndWorker(top, into: &configuration)
        readChannels(top, into: &configuration)
        if let node = top["serve"] { configuration.serve = serve(node) }
        for (key, (node, owner)) in retryOverrides.sorted(by: { $0.key < $1.key }) {
            configuration.retryOverrides[key] = retryPolicy(node, base: configuration.retry, owner: owner)
        }
        return (reader.diagnostics.hasErrors ? nil : configuration, reader.diagnostics)
    }

    /// `store:`, `worker:`, `log:` and `site:`.
    private func readStoreAndWorker(_ top: YAMLMapping, into configuration: inout Configuration) {
        if let node = top["store"], let store = reader.mapping(node, "store", allowed: ["url", "pool", "schema"]) {
            configuration.store.url = secret(store, "url", owner: "store")
            if let value = integer(store, "pool", range: 1...512) { configuration.store.pool = value }
            if let node = store["schema"], let schema = reader.string(node, "'schema' of store") {
                if schema.range(of: "^[a-z_][a-z0-9_]{0,62}$", options: .regularExpression) != nil {
                    configuration.store.schema = schema
                } else {
                    reader.error("store schema '\(schema)' is not a plain lower-case SQL name such as herald", at: node)
                }
            }
        }
        if let node = top["worker"], let worker = reader.mapping(node, "worker", allowed: ["name", "lease"]) {
            if let node = worker["name"], let name = reader.secretText(node, "'name' of worker") {
                // The one non-secret value that may come from the environment: `${HOSTNAME}`.
                if let variable = Secret.variableName(in: name) {
                    configuration.worker.name = environment[variable].flatMap { $0.isEmpty ? nil : $0 }
                } else if name.isEmpty || name.count > 100 || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    reader.error("worker name must be 1-100 printable characters", at: node)
                } else {
                    configuration.worker.name = name
                }
            }
            if let lease = duration(worker, "lease") {
                if lease < .seconds(5) {
                    reader.error("worker lease \(lease) is too short for a chunk to finish; use at least 5s", at: worker["lease"]!)
                } else {
                    configuration.worker.lease = lease
                }
            }
        }
        if let node = top["log"], let log = reader.mapping(node, "log", allowed: ["recipients"]) {
            configuration.recipientMasking = reader.choice(log, "recipients", default: .masked)
        }
        if let node = top["site"], let site = reader.mapping(node, "site", allowed: ["transport"]) {
            configuration.site = SiteSettings(transport: transport(site, owner: "site", section: "the site channel", default: .inbox))
        }
    }

    /// `mail.unsubscribe`, then every mail account, SMS channel and WeChat app.
    private func readChannels(_ top: YAMLMapping, into configuration: inout Configuration) {
        configuration.unsubscribe = unsubscribe(top)
        configuration.mailAccounts = entries(top, section: "mail", group: "accounts", what: "mail account", alsoAllowed: ["unsubscribe"]) { id, m in
            let from = reader.string(m, "from", required: true)
            if let from, let node = m["from"], !Self.looksLikeAddress(from) {
                reader.error("'from' of mail account '\(id)' is '\(from)', not an email address", at: node)
            }
            let transport = transport(m, owner: "mail account '\(id)'", section: "mail accounts", default: .file)
            var account = MailAccount(id: id, transport: transport, from: from ?? "", replyTo: reader.string(m, "reply_to"))
            account.rate = rate(m, "rate")
            account.dailyQuota = integer(m, "daily_quota", range: 1...100_000_000)
            if let node = m["bounce_domain"], let domain = reader.string(node, "'bounce_domain'") {
                if domain.range(of: #"^[A-Za-z0-9]([A-Za-z0-9-]{0,62}\.)+[A-Za-z]{2,63}$"#, options: .regularExpression) != nil {
                    account.bounceDomain = domain.lowercased()
                } else {
                    reader.error("'bounce_domain' of mail account '\(id)' is '\(domain)'; write a domain such as bounces.example.com", at: node)
                }
            }
            if let node = m["max_size"], let text = reader.string(node, "'max_size'") {
                if let size = SizeText.parse(text), size > 0 { account.maxSize = size } else {
                    reader.error("'max_size' of mail account '\(id)' is '\(text)'; write a size like 10MB or 512KB (at most 1024GB)", at: node)
                }
            }
            account.provider = providerSettings(m, kind: transport, section: "mail accounts", id: id, owner: "mail account '\(id)'")
            if let node = m["retry"] { retryOverrides[TransportKey(.mail, id)] = (node, "mail account '\(id)'") }
            return account
        }
        configuration.smsChannels = entries(top, section: "sms", group: "channels", what: "sms channel") { id, m in
            var channel = SMSChannel(id: id, transport: transport(m, owner: "sms channel '\(id)'", section: "sms channels", default: .file),
                                     signature: reader.string(m, "signature"))
            channel.rate = rate(m, "rate")
            if let node = m["retry"] { retryOverrides[TransportKey(.sms, id)] = (node, "sms channel '\(id)'") }
            channel.provider = providerSettings(m, kind: channel.transport, section: "sms channels", id: id, owner: "sms channel '\(id)'")
            return channel
        }
        configuration.wechatApps = entries(top, section: "wechat", group: "apps", what: "wechat app") { id, m in
            let transport = transport(m, owner: "wechat app '\(id)'", section: "wechat apps", default: .file)
            if let node = m["retry"] {
                let kind = m["kind"]?.scalar.flatMap { WeChatAppKind(rawValue: $0.string) } ?? .officialAccount
                retryOverrides[TransportKey(kind.channel, id)] = (node, "wechat app '\(id)'")
            }
            var app = WeChatApp(id: id, transport: transport,
                      kind: reader.choice(m, "kind", default: .officialAccount),
                      appID: reader.string(m, "app_id"))
            app.rate = rate(m, "rate")
            app.provider = providerSettings(m, kind: transport, section: "wechat apps", id: id, owner: "wechat app '\(id)'")
            return app
        }
        configuration.wecomApps = chatApps(top, channel: .wecom, app: .wecom, robot: .wecomRobot)
        configuration.dingtalkApps = chatApps(top, channel: .dingtalk, app: .dingtalk, robot: .dingtalkRobot)
        configuration.feishuApps = chatApps(top, channel: .feishu, app: .feishu, robot: .feishuRobot)
    }

    /// `wecom.apps` or `dingtalk.apps`: apps (`transport: wecom`, `dingtalk`) and robots
    /// (`wecom_robot`, `dingtalk_robot`); a file or discard entry is an app unless `kind: robot`.
    private func chatApps(_ top: YAMLMapping, channel: Channel, app appKind: TransportKind, robot robotKind: TransportKind) -> [String: ChatApp] {
        let name = channel.rawValue
        return entries(top, section: name, group: "apps", what: "\(name) app") { id, m in
            let transport = transport(m, owner: "\(name) app '\(id)'", section: "\(name) apps", default: .file)
            var app = ChatApp(id: id, transport: transport, kind: reader.choice(m, "kind", default: transport == robotKind ? .robot : .app))
            if let node = m["kind"], (transport == robotKind && app.kind != .robot) || (transport == appKind && app.kind != .app) {
                reader.error("\(name) app '\(id)' is of kind \(app.kind.rawValue), but transport \(transport.rawValue) sends \(transport == appKind ? "app" : "robot") messages", at: node)
            }
            app.rate = rate(m, "rate")
            if app.kind == .robot, let given = app.rate, let node = m["rate"],
               Double(given.count) / given.period.seconds > Double(ChatApp.robotLimit(channel).count) / ChatApp.robotLimit(channel).period.seconds {
                reader.warning("rate \(given) of \(name) robot '\(id)' is over the platform's \(ChatApp.robotLimit(channel)) for a robot; the excess is refused and waits in the spool", at: node)
            }
            if let node = m["retry"] { retryOverrides[TransportKey(channel, id)] = (node, "\(name) app '\(id)'") }
            app.provider = providerSettings(m, kind: transport, section: "\(name) apps", id: id, owner: "\(name) app '\(id)'")
            return app
        }
    }

    /// `mail.unsubscribe`: the one-click link's base URL and signing secret.
    private func unsubscribe(_ top: YAMLMapping) -> OneClickUnsubscribe? {
        if let mail = top["mail"]?.mapping, let node = mail["unsubscribe"],
           let m = reader.mapping(node, "mail.unsubscribe", allowed: ["base_url", "secret"]) {
            let base = reader.string(m, "base_url", required: true)
            if m["secret"] == nil { reader.missing("secret", in: m, hint: "add `secret: ${HERALD_UNSUBSCRIBE_SECRET}`") }
            if let base, let baseNode = m["base_url"] {
                if !(base.hasPrefix("https://") || base.hasPrefix("http://")) || UnsubscribeLink.problem(base) != nil {
                    reader.error("mail.unsubscribe base_url is '\(base)'; write where herald serve is reachable, such as https://notify.example.com", at: baseNode)
                } else if let secret = secret(m, "secret", owner: "mail.unsubscribe") {
                    if !secret.value.isEmpty, secret.value.count < 16, let node = m["secret"] {
                        reader.error("mail.unsubscribe secret has \(secret.value.count) characters; use at least 16 random ones", at: node)
                    }
                    let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
                    return OneClickUnsubscribe(baseURL: trimmed, secret: secret)
                }
            }
        }
        return nil
    }

    /// Reads `transport:`; a transport that belongs to another section (smtp to mail accounts,
    /// inbox to the site channel, SMS providers to sms channels, wechat to wechat apps) is an error.
    func transport(_ mapping: YAMLMapping, owner: String, section: String, default fallback: TransportKind) -> TransportKind {
        let kind = reader.choice(mapping, "transport", default: fallback)
        if let home = kind.section, home != section, let node = mapping["transport"] {
            reader.error("\(owner) cannot use transport \(kind.rawValue); it is for \(home)", at: node)
        }
        return kind
    }

    /// The keys of a mail account, SMS channel or WeChat app: the section's own, and those the
    /// settings readers of its provider kinds read (every one, whichever transport is chosen).
    func allowedKeys(_ what: String) -> [String] {
        var keys: [String]
        switch what {
        case "mail account": keys = ["transport", "from", "reply_to", "rate", "max_size", "retry", "bounce_domain", "daily_quota"]
        case "sms channel": keys = ["transport", "signature", "rate", "retry"]
        case "wecom app", "dingtalk app", "feishu app": keys = ["transport", "kind", "rate", "retry"]
        default: keys = ["transport", "kind", "app_id", "rate", "retry"]
        }
        for key in channels.keys(section: Self.section(of: what)) where !keys.contains(key) { keys.append(key) }
        return keys
    }

    /// The section of what `entries` reads (`mail account` → `mail accounts`), as `TransportKind.section` names it.
    private static func section(of what: String) -> String {
        what + "s"
    }

    /// The settings of a provider transport, read by the channel module's reader of its kind;
    /// nil for `file`, `discard` and `inbox`. A kind no reader knows is an error at `transport`.
    private func providerSettings(_ m: YAMLMapping, kind: TransportKind, section: String, id: String, owner: String) -> (any ProviderSettings)? {
        // A kind of another section was reported by `transport(_:owner:section:default:)` already.
        guard kind.readsSettings, kind.section == section else { return nil }
        guard let settingsReader = channels.reader(of: kind) else {
            reader.error("\(owner) uses transport \(kind.rawValue), which this program cannot configure (no settings reader for it)",
                         at: m["transport"] ?? m.node)
            return nil
        }
        return settingsReader.read(SettingsMapping(loader: self, mapping: m, id: id, owner: owner))
    }

    /// Reads `section.group.<id>` mappings, e.g. `mail.accounts.default`.
    private func entries<T>(_ top: YAMLMapping, section: String, group: String, what: String, alsoAllowed: [String] = [],
                            build: (String, YAMLMapping) -> T) -> [String: T] {
        guard let node = top[section], let sectionMapping = reader.mapping(node, section, allowed: [group] + alsoAllowed) else {
            return [:]
        }
        guard let groupNode = sectionMapping[group], let groupMapping = reader.mapping(groupNode, "\(section).\(group)") else {
            return [:]
        }
        var result: [String: T] = [:]
        for entry in groupMapping.entries {
            guard let mapping = reader.mapping(entry.value, "\(what) '\(entry.key)'", allowed: allowedKeys(what)) else {
                continue
            }
            if mapping["transport"] == nil {
                reader.error("\(what) '\(entry.key)' has no 'transport'; add `transport: file`", at: entry.keyNode)
            }
            result[entry.key] = build(entry.key, mapping)
        }
        return result
    }

    /// `retry:` at the top (`owner` nil) or of an account, channel or app.
    func retryPolicy(_ node: Node, base: RetryPolicy, owner: String?) -> RetryPolicy {
        var policy = base
        guard let m = reader.mapping(node, owner.map { "retry of \($0)" } ?? "retry", allowed: ["min_backoff", "max_backoff", "max_age", "max_attempts"]) else {
            return policy
        }
        if let value = duration(m, "min_backoff") { policy.minBackoff = value }
        if let value = duration(m, "max_backoff") { policy.maxBackoff = value }
        if let value = duration(m, "max_age") { policy.maxAge = value }
        if let value = integer(m, "max_attempts", range: 1...1000) { policy.maxAttempts = value }
        if policy.maxBackoff < policy.minBackoff {
            reader.error("max_backoff of \(m.what) is shorter than min_backoff", at: m.node)
        }
        return policy
    }

    /// `caps: {sms: [1/min, 5/hour], mail: {marketing: [2/day], default: [20/day]}, verification_max_wait: 1m}`.
    func readCaps(_ node: Node, into configuration: inout Configuration) {
        let channels = Channel.allCases.map(\.rawValue)
        guard let mapping = reader.mapping(node, "caps", allowed: channels + ["verification_max_wait"]) else { return }
        if let value = duration(mapping, "verification_max_wait") { configuration.verificationMaxWait = value }
        for entry in mapping.entries {
            guard let channel = Channel(rawValue: entry.key) else { continue }
            var byCategory: [TemplateCategory?: [RateLimit]] = [:]
            if entry.value.sequence != nil || entry.value.scalar != nil {
                byCategory[nil] = rates(entry.value, owner: "caps of \(entry.key)")
            } else if let categories = reader.mapping(entry.value, "caps of \(entry.key)",
                                                      allowed: TemplateCategory.allCases.map(\.rawValue) + ["default"]) {
                for item in categories.entries {
                    byCategory[TemplateCategory(rawValue: item.key)] = rates(item.value, owner: "caps of \(entry.key) \(item.key)")
                }
            }
            configuration.caps[channel] = byCategory
        }
    }

    private func rates(_ node: Node, owner: String) -> [RateLimit] {
        let items = node.sequence.map(Array.init) ?? [node]
        return items.compactMap { item in
            guard let text = reader.string(item, owner) else { return nil }
            if text == "none" { return nil }
            guard let rate = RateLimit.parse(text) else {
                reader.error("'\(text)' in \(owner) is not a rate; write caps like [1/min, 5/hour, 10/day]", at: item)
                return nil
            }
            return rate
        }
    }

    /// `serve:`. Its secrets are needed only by `herald serve`, which refuses to start without
    /// them; other commands do not complain when they are unset.
    func serve(_ node: Node) -> ServeSettings {
        var settings = ServeSettings()
        guard let serve = reader.mapping(node, "serve", allowed: ["bind", "max_body", "idle_timeout", "max_connections", "live_backlog", "clients", "receipts"]) else {
            return settings
        }
        if let value = duration(serve, "idle_timeout") {
            if value < .seconds(1) || value > .seconds(3600), let node = serve["idle_timeout"] {
                reader.error("'idle_timeout' in serve must be from 1s to 1h", at: node)
            } else {
                settings.idleTimeout = value
            }
        }
        if let value = integer(serve, "max_connections", range: 1...1_000_000) { settings.maxConnections = value }
        if let value = integer(serve, "live_backlog", range: 1...100_000) { settings.liveBacklog = value }

        if let node = serve["bind"], let text = reader.string(node, "'bind' in serve") {
            if let (host, port) = ServeSettings.address(text) {
                settings.host = host
                settings.port = port
            } else {
                reader.error("'bind' in serve is '\(text)'; write HOST:PORT such as 127.0.0.1:8080", at: node)
            }
        }
        if let node = serve["max_body"], let text = reader.string(node, "'max_body' in serve") {
            if let size = SizeText.parse(text), size > 0 { settings.maxBody = size } else {
                reader.error("'max_body' in serve is '\(text)'; write a size like 64KB or 1MB (at most 1024GB)", at: node)
            }
        }
        if let node = serve["clients"], let clients = reader.mapping(node, "serve.clients") {
            var owners: [String: String] = [:]
            for entry in clients.entries {
                guard let client = reader.mapping(entry.value, "serve client '\(entry.key)'", allowed: ["token", "tenants", "scopes"]) else { continue }
                let owner = "serve client '\(entry.key)'"
                guard client["token"] != nil else {
                    reader.missing("token", in: client, hint: "add `token: ${HERALD_\(entry.key.uppercased())_TOKEN}`")
                    continue
                }
                guard let token = secret(client, "token", owner: owner, neededByRun: false) else { continue }
                if !token.value.isEmpty, let node = client["token"] {
                    if token.value.count < 16 {
                        reader.error("the token of \(owner) (${\(token.variable)}) has \(token.value.count) characters; use at least 16 random ones", at: node)
                    }
                    if let other = owners[token.value] {
                        reader.error("\(owner) has the same token as serve client '\(other)'; give each product its own", at: node)
                    }
                    owners[token.value] = entry.key
                }
                guard let tenants = reader.strings(client, "tenants"), !tenants.isEmpty else {
                    reader.missing("tenants", in: client, hint: "add `tenants: [0]` (or `[\"*\"]` for every tenant)")
                    continue
                }
                var scopes: Set<ServeClient.Scope> = [.inbox]
                if let given = reader.strings(client, "scopes") {
                    scopes = Set(given.compactMap(ServeClient.Scope.init(rawValue:)))
                    for scope in given where ServeClient.Scope(rawValue: scope) == nil {
                        reader.error("scope '\(scope)' of \(owner) is not one of \(ServeClient.Scope.allCases.map(\.rawValue).joined(separator: ", "))",
                                     at: client["scopes"] ?? entry.value)
                    }
                }
                settings.clients[entry.key] = ServeClient(name: entry.key, token: token, tenants: tenants, scopes: scopes)
            }
        }
        if let node = serve["receipts"], let receipts = reader.mapping(node, "serve.receipts", allowed: ["secret"]) {
            settings.receiptSecret = secret(receipts, "secret", owner: "serve.receipts", neededByRun: false)
            if let value = settings.receiptSecret?.value, !value.isEmpty, value.count < 16, let node = receipts["secret"] {
                reader.error("serve.receipts secret has \(value.count) characters; use at least 16 random ones (it is the callback URL's password)", at: node)
            }
        }
        return settings
    }

    /// A `${NAME}` value: a literal is an error (secrets live only in the environment); an
    /// unset variable is an error, or a warning when secrets are optional. A secret that only
    /// `herald serve` uses (`neededByRun: false`) is not an error for other commands.
    func secret(_ mapping: YAMLMapping, _ key: String, owner: String, neededByRun: Bool = true) -> Secret? {
        guard let node = mapping[key], let text = reader.secretText(node, "'\(key)' of \(owner)") else { return nil }
        guard let variable = Secret.variableName(in: text) else {

            reader.error("'\(key)' of \(owner) is written literally; secrets come only from the environment: write \(key): ${HERALD_\(key.uppercased())} and export that variable", at: node)
            return nil
        }
        guard let value = environment[variable], !value.isEmpty else {
            let message = "environment variable \(variable) (\(key) of \(owner)) is not set"
            if secretsOptional { reader.warning(message, at: node) } else if neededByRun { reader.error(message, at: node) }
            return Secret(variable: variable, value: "")
        }
        return Secret(variable: variable, value: value)
    }

    func rate(_ mapping: YAMLMapping, _ key: String) -> RateLimit? {
        guard let node = mapping[key], let text = reader.string(node, "'\(key)' in \(mapping.what)") else { return nil }
        guard let rate = RateLimit.parse(text) else {
            reader.error("'\(key)' in \(mapping.what) is '\(text)'; write a rate like 20/s, 600/min or 10000/day (at most 1000000000 per period)", at: node)
            return nil
        }
        return rate
    }

    func duration(_ mapping: YAMLMapping, _ key: String) -> Duration? {
        guard let node = mapping[key], let text = reader.string(node, "'\(key)' in \(mapping.what)") else { return nil }
        guard let value = DurationText.parse(text) else {
            reader.error("'\(key)' in \(mapping.what) is '\(text)'; write a duration like 500ms, 2s, 5m, 1h or 30d (at most 3650d)", at: node)
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
