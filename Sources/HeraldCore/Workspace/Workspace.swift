import Foundation

/// A Herald workspace: a folder holding herald.yaml, templates/, recipients/, outbox/ and reports/.
public struct Workspace: Sendable {
    /// The folder.
    public let root: URL
    /// herald.yaml.
    public var configuration: Configuration
    /// templates/.
    public var catalog: TemplateCatalog
    /// Warnings found while loading (errors make `open` throw).
    public var warnings: [Diagnostic]
    /// What the channel module brings (HeraldChannels' `ChannelSupport.builtIn`): its content
    /// rules are applied by the render stage of every run and request over this workspace.
    public var channels: ChannelSupport = .none

    /// The channels' content rules.
    public var contentRules: [any ContentRules] { channels.contentRules }

    /// Loads herald.yaml and every template; throws every problem found when any is an error.
    /// `secretsOptional` turns unset `${VAR}` secrets into warnings (for commands that send nothing).
    /// `channels` reads the provider transports' settings and holds the channels' content rules:
    /// templates are checked against them, and so is every message rendered over the workspace.
    public static func open(at root: URL,
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            secretsOptional: Bool = false, channels: ChannelSupport = .none) throws -> Workspace {
        let (loaded, diagnostics) = WorkspaceCheck.load(root: root, environment: environment, secretsOptional: secretsOptional, channels: channels)
        guard let (configuration, catalog) = loaded, !diagnostics.hasErrors else { throw DiagnosticsError(diagnostics) }
        return Workspace(root: root, configuration: configuration, catalog: catalog,
                         warnings: diagnostics.sortedByLocation(), channels: channels)
    }

    /// A renderer that knows this workspace's SMS signatures.
    public var renderer: TemplateRenderer { TemplateRenderer(configuration: configuration) }
}

/// What `herald check` does: validates herald.yaml, every template, and that every account,
/// channel and app a template names exists.
public enum WorkspaceCheck {
    /// Every diagnostic for the workspace at `root`, sorted by location.
    /// Secrets are optional here (an unset `${VAR}` is a warning): `check` runs in pre-commit
    /// hooks and CI where they are not exported.
    /// `channels` reads provider settings and is asked about values written literally in templates.
    public static func run(root: URL,
                           environment: [String: String] = ProcessInfo.processInfo.environment,
                           channels: ChannelSupport = .none) -> [Diagnostic] {
        load(root: root, environment: environment, secretsOptional: true, channels: channels).1.sortedByLocation()
    }

    static func load(root: URL, environment: [String: String],
                     secretsOptional: Bool = false, channels: ChannelSupport = .none) -> ((Configuration, TemplateCatalog)?, [Diagnostic]) {
        let (configuration, configurationDiagnostics) = Configuration.load(from: root, environment: environment,
                                                                           secretsOptional: secretsOptional, channels: channels)
        let (catalog, templateDiagnostics) = TemplateCatalog.load(from: root)
        var diagnostics = configurationDiagnostics + templateDiagnostics
        if let configuration {
            diagnostics += crossReferences(catalog, configuration)
        }
        if let configuration { diagnostics += smsLengths(catalog, configuration) }
        diagnostics += literalContent(catalog, channels.contentRules)
        for code in catalog.codes {
            guard let template = catalog[code], template.status == .disabled else { continue }
            diagnostics.append(.warning("template '\(code)' is disabled; its rows will be recorded as skipped",
                                        at: template.sourceMap.status ?? SourceLocation(file: template.file)))
        }
        return (configuration.map { ($0, catalog) }, diagnostics)
    }

    /// A warning for each SMS whose fixed text with its signature already needs more than one part.
    static func smsLengths(_ catalog: TemplateCatalog, _ configuration: Configuration) -> [Diagnostic] {
        catalog.codes.compactMap { code -> Diagnostic? in
            guard let template = catalog[code], let sms = template.base.sms else { return nil }
            let fixed = sms.content.segments.map { segment -> String in
                if case let .literal(text) = segment { return text }
                return ""
            }.joined()
            let signature = sms.channels.first.flatMap { configuration.smsChannels[$0]?.signature }
            let signed = signature.map { "【\($0)】" + fixed } ?? fixed
            let length = SMSLength.measure(signed)
            guard length.segments > 1 else { return nil }
            return .warning("sms content of '\(code)' is \(length.units) characters with its signature before any parameter; it is sent as \(length.segments) parts and billed as such",
                            at: template.sourceMap.smsContent ?? SourceLocation(file: template.file))
        }
    }

    /// Errors for values written literally in templates that already break their channel's
    /// content rules (the provider would refuse every message).
    static func literalContent(_ catalog: TemplateCatalog, _ rules: [any ContentRules]) -> [Diagnostic] {
        catalog.codes.compactMap { catalog[$0] }.flatMap { template in rules.flatMap { $0.literalProblems(in: template) } }
    }

    /// Names that templates use but herald.yaml does not define.
    public static func crossReferences(_ catalog: TemplateCatalog, _ configuration: Configuration) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        for code in catalog.codes {
            guard let template = catalog[code] else { continue }
            for reference in template.sourceMap.references {
                let defined: [String]
                var problem: String?
                switch reference.kind {
                case .mailAccount:
                    defined = configuration.mailAccounts.keys.sorted()
                case .smsChannel:
                    defined = configuration.smsChannels.keys.sorted()
                case .officialAccountApp, .miniProgramApp:
                    defined = configuration.wechatApps.keys.sorted()
                    let wanted: WeChatAppKind = reference.kind == .officialAccountApp ? .officialAccount : .miniProgram
                    if let app = configuration.wechatApps[reference.id], app.kind != wanted {
                        problem = "wechat app '\(reference.id)' is of kind \(app.kind.rawValue), but this variant needs a \(wanted.rawValue) app"
                    }
                case .wecomApp, .wecomRobot, .dingtalkApp, .dingtalkRobot, .feishuApp, .feishuRobot:
                    let channel: Channel = switch reference.kind {
                    case .wecomApp, .wecomRobot: .wecom
                    case .dingtalkApp, .dingtalkRobot: .dingtalk
                    default: .feishu
                    }
                    let apps = configuration.chatApps(channel)
                    defined = apps.keys.sorted()
                    let wanted: ChatApp.Kind = [.wecomApp, .dingtalkApp, .feishuApp].contains(reference.kind) ? .app : .robot
                    if let app = apps[reference.id], app.kind != wanted {
                        problem = "\(channel.rawValue) app '\(reference.id)' is of kind \(app.kind.rawValue), but this variant names it as \(wanted == .app ? "'app'" : "'robot'")"
                    }
                }
                if !defined.contains(reference.id) {
                    var message = "\(reference.kind.rawValue) '\(reference.id)' is not defined in herald.yaml"
                    if let guess = Spelling.closest(to: reference.id, among: defined) {
                        message += "; did you mean '\(guess)'?"
                    } else if defined.isEmpty {
                        message += "; define it there first"
                    } else {
                        message += "; defined: \(defined.joined(separator: ", "))"
                    }
                    problem = message
                }
                if let problem {
                    diagnostics.append(.error(problem, at: reference.location))
                }
            }
            // Bulk mail needs a way out (mailbox providers require one-click unsubscribe).
            guard let mail = template.base.mail else { continue }
            let asks = mail.unsubscribe?.source == OneClickUnsubscribe.templateValue
            let where_ = SourceLocation(file: template.file, line: 1)
            if asks && configuration.unsubscribe == nil {
                diagnostics.append(.error("the mail variant asks for unsubscribe: one-click, but herald.yaml has no mail.unsubscribe "
                                          + "(base_url and secret)", at: where_))
            } else if template.category == .marketing && mail.unsubscribe == nil && configuration.unsubscribe == nil {
                diagnostics.append(.warning("marketing mail with no way to unsubscribe: set mail.unsubscribe in herald.yaml for "
                                            + "one-click links (RFC 8058), or unsubscribe: in the mail variant", at: where_))
            }
        }
        return diagnostics
    }
}
