import Foundation
import Yams

/// Turns one `templates/*.yaml` file into a `Template`, reporting every problem with the
/// line and column of the key or value at fault.
struct TemplateLoader {
    static let topLevelKeys = ["code", "name", "category", "status", "params", "site", "mail", "sms",
                               "wechat_mp", "wechat_mini", "wecom", "dingtalk", "feishu", "locales", "escalate", "digest"]
    static let variantKeys = ["site", "mail", "sms", "wechat_mp", "wechat_mini", "wecom", "dingtalk", "feishu"]

    /// Where each field was written, so placeholder problems can point at it.
    private struct FieldSite {
        var text: TemplateText
        var node: Node
    }

    private let reader: YAMLReader
    private let code: String
    private var fields: [FieldSite] = []
    private var sourceMap = TemplateSourceMap()

    private init(reader: YAMLReader, code: String) {
        self.reader = reader
        self.code = code
    }

    /// Loads `text` (the contents of `file`, whose stem is `code`).
    static func load(code: String, file: String, text: String) -> (Template?, [Diagnostic]) {
        let reader = YAMLReader(file: file)
        var loader = TemplateLoader(reader: reader, code: code)
        let template = loader.load(text)
        return (template, reader.diagnostics)
    }

    private mutating func load(_ text: String) -> Template? {
        guard let root = reader.parse(text),
              let top = reader.mapping(root, "template", allowed: Self.topLevelKeys) else { return nil }

        if let codeNode = top["code"], let written = reader.string(codeNode, "'code'"), written != code {
            reader.error("code '\(written)' does not match the file name; the file stem is the code, so use '\(code)' or rename the file", at: codeNode)
        }
        let name = reader.string(top, "name") ?? code
        let category = reader.choice(top, "category", default: TemplateCategory.transactional)
        let status = reader.choice(top, "status", default: TemplateStatus.enabled)
        let declared = top["params"].flatMap { declarations($0) }

        let variantMappings = Self.variantKeys.compactMap { key -> (String, YAMLMapping)? in
            guard let node = top[key], let mapping = reader.mapping(node, "\(key) variant", allowed: Self.fieldKeys(key)) else {
                return nil
            }
            return (key, mapping)
        }
        let baseMappings = Dictionary(uniqueKeysWithValues: variantMappings)
        let base = variants(baseMappings)
        if variantMappings.isEmpty && top["locales"] == nil {
            reader.error("template defines no channel; add at least one of \(Self.variantKeys.joined(separator: ", "))", at: root)
        }

        var locales: [String: VariantSet] = [:]
        if let localesNode = top["locales"], let localesMapping = reader.mapping(localesNode, "locales") {
            for entry in localesMapping.entries {
                guard let overrides = reader.mapping(entry.value, "locale '\(entry.key)'", allowed: Self.variantKeys) else { continue }
                var merged = baseMappings
                for override in overrides.entries {
                    guard let mapping = reader.mapping(override.value, "\(override.key) variant",
                                                       allowed: Self.fieldKeys(override.key)) else { continue }
                    merged[override.key] = merged[override.key].map { $0.overridden(by: mapping) } ?? mapping
                }
                locales[entry.key] = variants(merged, only: Set(overrides.keys))
            }
        }

        sourceMap.status = reader.location(top["status"] ?? root)
        var template = Template(code: code, name: name, category: category, status: status,
                                declaredParameters: declared?.map(\.declaration), base: base,
                                locales: locales, file: reader.file)
        template.sourceMap = sourceMap
        if let node = top["escalate"] { template.escalations = escalations(node, channels: template.channels) }
        if let node = top["digest"] { template.digest = digest(node, placeholders: Set(template.placeholders)) }
        if let declared { checkDeclarations(declared) }
        return template
    }

    /// `escalate:`, a list of `{after, unless, to}`: variants named in `to` are held back and sent
    /// only when the row's first messages were not read, delivered or sent within `after`.
    private func escalations(_ node: Node, channels: [Channel]) -> [EscalationRule] {
        guard let items = node.sequence else {
            reader.error("escalate is a list of steps like - {after: 30m, unless: read, to: [sms]}", at: node)
            return []
        }
        var rules: [EscalationRule] = []
        var held: Set<Channel> = []
        for item in items {
            guard let step = reader.mapping(item, "an escalate step", allowed: ["after", "unless", "to"]) else { continue }
            guard let afterText = reader.string(step, "after", required: true), let afterNode = step["after"] else { continue }
            guard let after = DurationText.parse(afterText), after > .zero else {
                reader.error("'after' in an escalate step is '\(afterText)'; write a duration like 30m or 2h", at: afterNode)
                continue
            }
            if step["unless"] == nil { reader.missing("unless", in: step, hint: "add `unless: read` (or delivered, sent)") }
            let unless = reader.choice(step, "unless", default: EscalationCondition.read)
            var targets: [Channel] = []
            for name in reader.strings(step, "to") ?? [] {
                guard let channel = Channel(rawValue: name) else {
                    reader.error("escalate to '\(name)' is not a channel; use \(Channel.allCases.map(\.rawValue).joined(separator: ", "))",
                                 at: step["to"] ?? item)
                    continue
                }
                guard channels.contains(channel) else {
                    reader.error("escalate to \(name), but the template has no \(name) variant", at: step["to"] ?? item)
                    continue
                }
                guard held.insert(channel).inserted else {
                    reader.error("\(name) is in the 'to' of two escalate steps; a variant escalates once", at: step["to"] ?? item)
                    continue
                }
                targets.append(channel)
            }
            if step["to"] == nil { reader.missing("to", in: step, hint: "add `to: [sms]`, the variants to send then") }
            if !targets.isEmpty { rules.append(EscalationRule(after: after, unless: unless, to: targets)) }
        }
        let first = channels.filter { !held.contains($0) }
        if !rules.isEmpty && first.isEmpty {
            reader.error("every variant is held back for escalation; at least one must be sent first", at: node)
        }
        if rules.contains(where: { $0.unless == .read }) && !first.contains(.site) {
            reader.error("unless: read needs a site variant that is sent first (only 站内信 have read state)", at: node)
        }
        return rules
    }

    /// `digest:`: rows with the same key within a window become one message.
    private func digest(_ node: Node, placeholders: Set<String>) -> DigestRule? {
        guard let m = reader.mapping(node, "digest", allowed: ["window", "key", "item", "separator", "max"]) else { return nil }
        guard let windowText = reader.string(m, "window", required: true), let windowNode = m["window"] else { return nil }
        guard let window = DurationText.parse(windowText), window > .zero else {
            reader.error("digest window is '\(windowText)'; write a duration like 1h or 30m", at: windowNode)
            return nil
        }
        let key = reader.string(m, "key") ?? "user_id"
        if !DigestRule.keys.contains(key) {
            reader.error("digest key is '\(key)'; use one of \(DigestRule.keys.joined(separator: ", "))", at: m["key"] ?? node)
        }
        guard let item = reader.string(m, "item", required: true) else { return nil }
        var rule = DigestRule(window: window, key: key, item: TemplateText(item), separator: reader.string(m, "separator") ?? "\n")
        if let maxNode = m["max"], let text = reader.string(maxNode, "'max' of digest") {
            if let max = Int(text), (1...10_000).contains(max) { rule.max = max } else {
                reader.error("digest max is '\(text)'; use a whole number from 1 to 10000", at: maxNode)
            }
        }
        if !placeholders.contains("digest_items") && !placeholders.contains("digest_count") {
            reader.warning("no variant uses {digest_items} or {digest_count}; the digest message will not show what it folds", at: node)
        }
        return rule
    }

    private struct Declared {
        var declaration: ParameterDeclaration
        var node: Node
    }

    private func declarations(_ node: Node) -> [Declared]? {
        guard let mapping = reader.mapping(node, "params") else { return nil }
        return mapping.entries.compactMap { entry in
            if entry.value.scalar?.string == "" || entry.value.scalar?.string == "~" {
                return Declared(declaration: ParameterDeclaration(name: entry.key), node: entry.keyNode)
            }
            guard let rules = reader.mapping(entry.value, "parameter '\(entry.key)'",
                                             allowed: ["required", "default", "description"]) else { return nil }
            let defaultValue = reader.string(rules, "default")
            let required = reader.bool(rules, "required") ?? (defaultValue == nil)
            return Declared(declaration: ParameterDeclaration(name: entry.key, required: required, defaultValue: defaultValue),
                            node: entry.keyNode)
        }
    }

    private func checkDeclarations(_ declared: [Declared]) {
        let declaredNames = Set(declared.map(\.declaration.name))
        var reported = Set<String>()
        for field in fields {
            for name in field.text.placeholders where !declaredNames.contains(name) && reported.insert(name).inserted {
                reader.error("placeholder {\(name)} is not declared in params; add `\(name): {required: true}` under params", at: field.node)
            }
        }
        let used = Set(fields.flatMap(\.text.placeholders))
        for item in declared where !used.contains(item.declaration.name) {
            reader.error("parameter '\(item.declaration.name)' is declared in params but no field uses {\(item.declaration.name)}; remove it or use it", at: item.node)
        }
    }

    static func fieldKeys(_ variant: String) -> [String] {
        switch variant {
        case "site": ["nickname", "type", "content"]
        case "mail": ["account", "nickname", "title", "html", "text", "attachments", "unsubscribe"]
        case "sms": ["channel", "api_template_id", "content"]
        case "wechat_mp": ["app", "template_id", "url", "miniprogram", "data"]
        case "wecom", "dingtalk": ["app", "robot", "type", "to", "content", "title", "description", "url", "button", "picture"]
        case "feishu": ["app", "robot", "type", "id_type", "content", "title"]
        default: ["app", "template_id", "page", "data", "miniprogram_state", "lang", "truncate"]
        }
    }

    /// Builds the variant set from mappings; `only` limits which are built (a locale's own).
    private mutating func variants(_ mappings: [String: YAMLMapping], only: Set<String>? = nil) -> VariantSet {
        func wanted(_ key: String) -> YAMLMapping? {
            if let only, !only.contains(key) { return nil }
            return mappings[key]
        }
        var set = VariantSet()
        if let m = wanted("site") { set.site = site(m) }
        if let m = wanted("mail") { set.mail = mail(m) }
        if let m = wanted("sms") { set.sms = sms(m) }
        if let m = wanted("wechat_mp") { set.wechatMP = wechat(m, officialAccount: true) }
        if let m = wanted("wechat_mini") { set.wechatMini = wechat(m, officialAccount: false) }
        if let m = wanted("wecom") { set.wecom = chat(m, channel: .wecom) }
        if let m = wanted("dingtalk") { set.dingtalk = chat(m, channel: .dingtalk) }
        if let m = wanted("feishu") { set.feishu = chat(m, channel: .feishu) }
        return set
    }

    private mutating func text(_ mapping: YAMLMapping, _ key: String, required: Bool = false) -> TemplateText? {
        guard let node = mapping[key] else {
            if required { reader.missing(key, in: mapping) }
            return nil
        }
        guard let string = reader.string(node, "'\(key)' in \(mapping.what)") else { return nil }
        let text = TemplateText(string)
        fields.append(FieldSite(text: text, node: node))
        return text
    }

    private mutating func site(_ m: YAMLMapping) -> SiteVariant? {
        let nickname = text(m, "nickname")
        let content = text(m, "content", required: true)
        let type = reader.string(m, "type") ?? "notification"
        guard let content else { return nil }
        return SiteVariant(nickname: nickname, type: type, content: content)
    }

    private mutating func reference(_ kind: ConfigurationReference.Kind, _ m: YAMLMapping, _ key: String) -> String? {
        guard let id = reader.string(m, key, required: true), let node = m[key] else { return nil }
        let reference = ConfigurationReference(kind: kind, id: id, location: reader.location(node))
        if !sourceMap.references.contains(reference) { sourceMap.references.append(reference) }
        return id
    }

    private mutating func mail(_ m: YAMLMapping) -> MailVariant? {
        let accounts = reader.strings(m, "account")
        if let accounts, let node = m["account"] {
            for id in accounts {
                let reference = ConfigurationReference(kind: .mailAccount, id: id, location: reader.location(node))
                if !sourceMap.references.contains(reference) { sourceMap.references.append(reference) }
            }
            if Set(accounts).count != accounts.count { reader.error("'account' names an account twice", at: node) }
            if accounts.isEmpty { reader.error("'account' is an empty list; name a mail account of herald.yaml", at: node) }
        } else if m["account"] == nil {
            reader.missing("account", in: m, hint: "add `account:`")
        }
        let account = accounts?.first
        let nickname = text(m, "nickname")
        let title = text(m, "title", required: true)
        let html = text(m, "html")
        let plain = text(m, "text")
        if m["html"] == nil && m["text"] == nil && m.misspelt.isDisjoint(with: ["html", "text"]) {
            reader.error("mail variant has neither 'html' nor 'text'; add a body", at: m.node)
        }
        let unsubscribe = text(m, "unsubscribe")
        if let unsubscribe, let node = m["unsubscribe"] {
            // Judge the fixed text: placeholders stand for a plain token while checking.
            let sample = unsubscribe.segments.map { segment -> String in
                if case let .literal(text) = segment { return text }
                return "x"
            }.joined()
            if sample != OneClickUnsubscribe.templateValue, let problem = UnsubscribeLink.problem(sample) { reader.error(problem.replacingOccurrences(of: "'\(sample)'", with: "'\(unsubscribe.source)'"), at: node) }
        }

        var attachments: [TemplateText] = []
        if let node = m["attachments"] {
            for item in node.sequence.map(Array.init) ?? [node] {
                guard let path = reader.string(item, "an attachment path") else { continue }
                let text = TemplateText(path)
                if let problem = AttachmentPolicy.templatePathProblem(text) { reader.error(problem, at: item) }

                fields.append(FieldSite(text: text, node: item))
                attachments.append(text)
            }
        }
        guard let account, let title, html != nil || plain != nil else { return nil }
        var variant = MailVariant(account: account, nickname: nickname, title: title, html: html, text: plain,
                                  attachments: attachments, unsubscribe: unsubscribe)
        variant.fallbackAccounts = Array((accounts ?? []).dropFirst())
        return variant
    }

    private mutating func sms(_ m: YAMLMapping) -> SMSVariant? {
        let channels = reader.strings(m, "channel")
        if let channels, let node = m["channel"] {
            for id in channels {
                let reference = ConfigurationReference(kind: .smsChannel, id: id, location: reader.location(node))
                if !sourceMap.references.contains(reference) { sourceMap.references.append(reference) }
            }
        }
        if m["channel"] == nil { reader.missing("channel", in: m, hint: "add `channel:` naming an SMS channel of herald.yaml") }
        let templateID = reader.string(m, "api_template_id", required: true)
        let content = text(m, "content", required: true)
        if sourceMap.smsContent == nil, let node = m["content"] { sourceMap.smsContent = reader.location(node) }
        guard let channels, !channels.isEmpty, let templateID, let content else { return nil }
        return SMSVariant(channels: channels, apiTemplateID: templateID, content: content)
    }

    private mutating func wechat(_ m: YAMLMapping, officialAccount: Bool) -> WeChatVariant? {
        let app = reference(officialAccount ? .officialAccountApp : .miniProgramApp, m, "app")
        let templateID = reader.string(m, "template_id", required: true)
        var variant = WeChatVariant(app: app ?? "", templateID: templateID ?? "", data: [])
        if officialAccount {
            variant.url = text(m, "url")
            if let node = m["miniprogram"], let mini = reader.mapping(node, "miniprogram", allowed: ["appid", "pagepath"]) {
                variant.miniprogramAppID = reader.string(mini, "appid", required: true)
                variant.miniprogramPage = text(mini, "pagepath")
            }
        } else {
            variant.page = text(m, "page")
            variant.miniprogramState = reader.string(m, "miniprogram_state")
            if let state = variant.miniprogramState, let node = m["miniprogram_state"], !["developer", "trial", "formal"].contains(state) {
                reader.error("miniprogram_state is '\(state)'; expected developer, trial or formal", at: node)
            }
            variant.lang = reader.string(m, "lang")
            variant.truncate = reader.bool(m, "truncate") ?? false
        }
        guard let dataNode = m["data"] else {
            reader.missing("data", in: m, hint: "add `data:` with the template's keys")
            return nil
        }
        guard let data = reader.mapping(dataNode, "data") else { return nil }
        if !officialAccount, sourceMap.wechatMiniData == nil { sourceMap.wechatMiniData = reader.location(dataNode) }
        for entry in data.entries {
            if entry.value.scalar != nil {
                guard let value = text(data, entry.key) else { continue }
                variant.data.append(WeChatDataItem(key: entry.key, value: value, color: nil))
            } else if let item = reader.mapping(entry.value, "data '\(entry.key)'", allowed: ["value", "color"]) {
                guard let value = text(item, "value", required: true) else { continue }
                variant.data.append(WeChatDataItem(key: entry.key, value: value, color: reader.string(item, "color")))
            }
        }
        guard app != nil, templateID != nil else { return nil }
        return variant
    }

    /// `wecom:` or `dingtalk:`: `app:` (an app message to the row's address column) or `robot:`
    /// (a group robot), a `type` and the fields that type needs.
    private mutating func chat(_ m: YAMLMapping, channel: Channel) -> ChatVariant? {
        let name = channel.rawValue
        let isRobot = m["robot"] != nil
        if m["app"] != nil && isRobot {
            reader.error("\(name) variant names both 'app' and 'robot'; an app message goes to \(channel.addressColumn), a robot's to its group: keep one", at: m.node)
        }
        guard m["app"] != nil || isRobot else {
            reader.missing("app", in: m, hint: "add `app:` (an app message to \(channel.addressColumn)) or `robot:` (a group robot)")
            return nil
        }
        let kinds: (app: ConfigurationReference.Kind, robot: ConfigurationReference.Kind) = switch channel {
        case .dingtalk: (.dingtalkApp, .dingtalkRobot)
        case .feishu: (.feishuApp, .feishuRobot)
        default: (.wecomApp, .wecomRobot)
        }
        let account = isRobot ? reference(kinds.robot, m, "robot") : reference(kinds.app, m, "app")
        let type = reader.choice(m, "type", default: ChatVariant.MessageType.text)
        let allowed = ChatVariant.MessageType.allowed(on: channel, robot: isRobot)
        if !allowed.contains(type), let node = m["type"] {
            reader.error("\(name) \(isRobot ? "robot" : "app") messages cannot be \(type.rawValue); use \(allowed.map(\.rawValue).joined(separator: ", "))", at: node)
        }
        let to = reader.choice(m, "to", default: ChatVariant.Target.user)
        if isRobot, let node = m["to"] { reader.error("'to' is for app messages; a robot posts to its own group", at: node) }
        if channel == .dingtalk, to == .tag, let node = m["to"] {
            reader.error("DingTalk work notifications go to members or departments; use to: user or to: party", at: node)
        }
        var variant = ChatVariant(app: isRobot ? nil : account, robot: isRobot ? account : nil, type: type, to: to)
        if channel == .feishu, let node = m["id_type"], let idType = reader.string(node, "'id_type'") {
            if isRobot {
                reader.error("'id_type' is for app messages; a bot posts to its own group", at: node)
            } else if !ChatVariant.feishuIDTypes.contains(idType) {
                reader.error("id_type is '\(idType)'; expected one of \(ChatVariant.feishuIDTypes.joined(separator: ", "))", at: node)
            } else {
                variant.idType = idType
            }
        }
        let fields = type.fields(on: channel), required = type.required(on: channel)
        func field(_ key: String) -> TemplateText? {
            fields.contains(key) ? text(m, key, required: required.contains(key)) : nil
        }
        variant.content = field("content")
        variant.title = field("title")
        variant.description = field("description")
        variant.url = field("url")
        variant.button = field("button")
        variant.picture = field("picture")
        for key in ["content", "title", "description", "url", "button", "picture"] where !fields.contains(key) {
            if let node = m[key] { reader.error("'\(key)' is not a field of a \(type.rawValue) message", at: node) }
        }
        if sourceMap.chatVariants[channel] == nil { sourceMap.chatVariants[channel] = reader.location(m.node) }
        guard account != nil else { return nil }
        return variant
    }
}

extension YAMLMapping {
    /// This mapping with `override`'s entries replacing same-named ones (a locale over the base).
    func overridden(by override: YAMLMapping) -> YAMLMapping {
        let replaced = Set(override.keys)
        return YAMLMapping(node: override.node, what: override.what,
                           entries: entries.filter { !replaced.contains($0.key) } + override.entries,
                           misspelt: misspelt.union(override.misspelt))
    }
}
