import Foundation

/// A channel's own rules for rendered content that its provider refuses, kept beside the channel
/// (HeraldChannels' `SubscribeValueRules` for WeChat subscribe messages). The render stage applies
/// the rules of a delivery's channel to what it rendered; `herald check` asks them about values
/// written literally in templates, which would break every message.
///
/// ```swift
/// let workspace = try Workspace.open(at: root, channels: .builtIn)
/// workspace.contentRules        // used by the run's render stage and by serve's
/// ```
public protocol ContentRules: Sendable {
    /// The channel whose content the rules are for.
    var channel: Channel { get }
    /// `message` as it can be sent (a value cut where the template allows it), or why it cannot be.
    func apply(to message: RenderedMessage, template: Template, locale: String?) -> Result<RenderedMessage, StageFailure>
    /// Errors for values written literally in `template` that already break a rule.
    func literalProblems(in template: Template) -> [Diagnostic]
}
