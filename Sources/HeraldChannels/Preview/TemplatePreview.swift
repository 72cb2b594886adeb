import Foundation
import HeraldCore

/// One rendered variant as `herald preview` shows it.
public struct PreviewDocument: Sendable, Hashable {
    /// The channel.
    public var channel: Channel
    /// The locale variant used, nil for the base.
    public var locale: String?
    /// File name under `--out`: `CODE.mail.eml`, `CODE.sms.txt`, `CODE.wechat_mp.json`…
    public var fileName: String
    /// The document: a full RFC 5322 message for mail, text for SMS, JSON for the others.
    public var body: String
}

/// Renders every variant of a template the way it would be sent, for `herald preview`.
public struct TemplatePreview: Sendable {
    /// The workspace whose templates and accounts are previewed.
    public var workspace: Workspace
    /// The date stamped on previewed mail.
    public var date: Date

    /// Creates a previewer.
    public init(workspace: Workspace, date: Date = Date()) {
        self.workspace = workspace
        self.date = date
    }

    /// Renders `code` on `channels` (all its channels when empty) with `parameters`.
    /// Fails on the first variant that cannot render, naming the parameter.
    public func render(code: String, channels: [Channel] = [], parameters: [String: String],
                       locale: String? = nil, mailRecipient: String = "recipient@example.com")
        throws -> [PreviewDocument] {
        guard let template = workspace.catalog[code] else {
            var message = "no template '\(code)' in templates/"
            if let guess = Spelling.suggestion(for: code, among: workspace.catalog.codes) {
                message += "; did you mean '\(guess)'?"
            }
            throw PreviewError(message: message)
        }
        let wanted = channels.isEmpty ? template.channels : channels
        return try wanted.map { channel in
            let message = try workspace.renderer.render(template, channel: channel, parameters: parameters,
                                                        locale: locale).get()
            return PreviewDocument(channel: channel, locale: message.locale,
                                   fileName: "\(code).\(channel.rawValue).\(Self.fileExtension(channel))",
                                   body: try document(message, recipient: mailRecipient))
        }
    }

    private static func fileExtension(_ channel: Channel) -> String {
        switch channel {
        case .mail: "eml"
        case .sms, .wecom, .dingtalk, .feishu: "txt"
        default: "json"
        }
    }

    private func document(_ message: RenderedMessage, recipient: String) throws -> String {
        switch message.content {
        case let .mail(mail):
            guard let account = workspace.configuration.mailAccounts[mail.account] else {
                throw PreviewError(message: "mail account '\(mail.account)' is not defined in herald.yaml")
            }
            let composer = MailComposer(timeZone: workspace.configuration.timeZone)
            do {
                return try composer.compose(mail, account: account, to: MailAddress(recipient), root: workspace.root,
                                            messageID: "preview.\(message.template)", date: date).rendered()
            } catch {
                throw PreviewError(message: "could not read an attachment of '\(message.template)': \(error)")
            }
        case let .sms(sms):
            let length = sms.length
            let parameters = sms.parameters.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
            return """
                \(sms.signedText)
                channel: \(sms.channels.joined(separator: ", ")) · api_template_id: \(sms.apiTemplateID)
                parameters: \(parameters)
                length: \(length)

                """
        case let .site(site):
            return try Self.json(site)
        case let .wechatMP(wechat), let .wechatMini(wechat):
            return try Self.json(wechat)
        case let .wecom(wecom), let .dingtalk(wecom), let .feishu(wecom):
            // As the platform shows it: the text, or the card's title, description and link.
            let kind = wecom.robot.map { "robot \($0)" } ?? "app \(wecom.app ?? "") to \(wecom.to.rawValue)"
            var lines = ["\(wecom.type.rawValue) · \(kind)", ""]
            if let content = wecom.content { lines.append(content) }
            if let title = wecom.title { lines.append(title) }
            if let description = wecom.description { lines.append(description) }
            if let url = wecom.url { lines.append("[\(wecom.button ?? (wecom.type == .textcard ? "详情" : "阅读全文"))] \(url)") }
            let bytes = (wecom.content ?? wecom.description ?? "").utf8.count
            lines.append("")
            lines.append("\(bytes) bytes")
            return lines.joined(separator: "\n") + "\n"
        }
    }

    private static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}

/// A preview that cannot be made, with the reason.
public struct PreviewError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    public var description: String { message }
}
