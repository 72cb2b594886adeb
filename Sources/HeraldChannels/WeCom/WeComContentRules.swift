import Foundation
import HeraldCore

/// What 企业微信 cuts or refuses, checked before sending: text and markdown of app messages and
/// robot text at most 2,048 bytes, robot markdown 4,096; a textcard's title 128 characters and
/// description 512; a card's or article's `url` an http(s) URL of at most 2,048 bytes. WeCom
/// truncates long text silently, so a message over its limit is `invalid` here instead.
public struct WeComContentRules: ContentRules {
    /// The rules.
    public init() {}

    public var channel: Channel { .wecom }

    public func apply(to message: RenderedMessage, template: Template, locale: String?) -> Result<RenderedMessage, StageFailure> {
        guard case let .wecom(wecom) = message.content else { return .success(message) }
        if let problem = Self.problem(wecom) { return .failure(StageFailure(.invalid, code: "wecom_too_long", problem)) }
        return .success(message)
    }

    public func literalProblems(in template: Template) -> [Diagnostic] {
        let sets = [template.base] + template.locales.keys.sorted().compactMap { template.locales[$0] }
        var diagnostics: [Diagnostic] = []
        for variant in sets.compactMap(\.wecom) {
            // The fixed text alone: parameters only make it longer.
            func fixed(_ text: TemplateText?) -> String? {
                text.map { $0.segments.map { segment in if case let .literal(value) = segment { value } else { "" } }.joined() }
            }
            let literal = RenderedChat(app: variant.app, robot: variant.robot, type: variant.type, to: variant.to,
                                        content: fixed(variant.content), title: fixed(variant.title), description: fixed(variant.description),
                                        url: nil, button: fixed(variant.button), picture: nil)
            if let problem = Self.problem(literal) {
                let diagnostic = Diagnostic.error("wecom variant: \(problem) before any parameter",
                                                  at: template.sourceMap.chatVariants[.wecom] ?? SourceLocation(file: template.file))
                if !diagnostics.contains(diagnostic) { diagnostics.append(diagnostic) }
            }
        }
        return diagnostics
    }

    /// Why WeCom would cut or refuse `message`, or nil.
    static func problem(_ message: RenderedChat) -> String? {
        let limit = message.robot != nil && message.type == .markdown ? 4096 : 2048
        if let content = message.content, content.utf8.count > limit {
            return "\(message.type.rawValue) content is \(content.utf8.count) bytes; WeCom takes at most \(limit)"
        }
        if let title = message.title, title.count > 128 {
            return "title is \(title.count) characters; WeCom takes at most 128"
        }
        if let description = message.description, description.count > 512 {
            return "description is \(description.count) characters; WeCom takes at most 512"
        }
        if let url = message.url {
            guard url.hasPrefix("https://") || url.hasPrefix("http://"), url.utf8.count <= 2048 else {
                return "url '\(url.prefix(80))' must start with http:// or https:// and be at most 2048 bytes"
            }
        }
        return nil
    }
}
