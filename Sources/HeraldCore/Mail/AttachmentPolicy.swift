import Foundation

/// Where attachments may come from and how large a message may be, per mail account.
public struct AttachmentPolicy: Sendable {
    /// The workspace: every attachment must be a file inside it.
    public var root: URL
    /// Largest message per account id, in bytes.
    public var maxSize: [String: Int]

    /// Creates a policy.
    public init(root: URL, maxSize: [String: Int] = [:]) {
        self.root = root.standardizedFileURL.resolvingSymlinksInPath()
        self.maxSize = maxSize
    }

    /// The policy of a workspace.
    public init(workspace: Workspace) {
        self.init(root: workspace.root, maxSize: workspace.configuration.mailAccounts.mapValues(\.maxSize))
    }

    /// The file `path` names, when it is a regular file inside the workspace.
    public func resolve(_ path: String) -> Result<(url: URL, size: Int), StageFailure> {
        let candidate = (path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path))
            .standardizedFileURL.resolvingSymlinksInPath()
        guard candidate.path.hasPrefix(root.path + "/") else {
            return .failure(StageFailure(.invalid, code: "attachment_outside_workspace",
                                         "attachment '\(path)' is outside the workspace; attachments must be files inside it"))
        }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: candidate.path),
              attributes[.type] as? FileAttributeType == .typeRegular else {
            return .failure(StageFailure(.invalid, code: "attachment_missing", "attachment '\(path)' does not exist or is not a file"))
        }
        return .success((candidate, (attributes[.size] as? Int) ?? 0))
    }

    /// Checks every attachment of `mail` and the message's size against its account's limit.
    public func check(_ mail: RenderedMail) -> StageFailure? {
        var total = (mail.html?.utf8.count ?? 0) + (mail.text?.utf8.count ?? 0)
        for path in mail.attachments {
            switch resolve(path) {
            case let .success(file): total += file.size
            case let .failure(failure): return failure
            }
        }
        // base64 grows attachments by a third.
        let estimate = total * 4 / 3 + 4096
        if let limit = maxSize[mail.account], estimate > limit {
            return StageFailure(.invalid, code: "message_too_large",
                                "the message with attachments is about \(estimate >> 10) KB, over the \(limit >> 10) KB max_size of mail account '\(mail.account)'")
        }
        return nil
    }
}
