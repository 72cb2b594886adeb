import HeraldCore

/// The content rules of every channel that has some, for `Workspace.open(at:rules:)` and
/// `WorkspaceCheck.run(root:rules:)`.
public enum ChannelRules {
    /// WeChat subscribe-message values.
    public static let all: [any ContentRules] = [SubscribeValueRules()]
}
