import Foundation

/// Where attachments may come from and how large a message may be, per mail account.
///
/// Attachments are files under `templates/attachments/` (reviewed in git) or
/// `recipients/attachments/` (dropped by producers), named relative to the workspace
/// (`recipients/attachments/invoice.pdf`). After symlinks are resolved a file must still be inside
/// one of them, must be a regular file, and no part of its path may be hidden (`.git`, `.env`) or
/// `..`: `herald.yaml`, `outbox/herald.sqlite` and everything else in the workspace stay private.
public struct AttachmentPolicy: Sendable {
    /// The folders attachments come from, relative to the workspace.
    public static let folders = ["templates/attachments", "recipients/attachments"]

    /// The workspace.
    public var root: URL
    /// `folders` inside the workspace, symlinks resolved.
    public var allowed: [URL]
    /// Largest message per account id, in bytes.
    public var maxSize: [String: Int]

    /// Creates a policy.
    public init(root: URL, maxSize: [String: Int] = [:]) {
        self.root = root.standardizedFileURL.resolvingSymlinksInPath()
        allowed = WorkspacePaths(root: root).attachmentFolders.map { $0.standardizedFileURL.resolvingSymlinksInPath() }
        self.maxSize = maxSize
    }

    /// The policy of a workspace.
    public init(workspace: Workspace) {
        self.init(root: workspace.root, maxSize: workspace.configuration.mailAccounts.mapValues(\.maxSize))
    }

    /// Why a template's attachment path (placeholders allowed) can never name an allowed file,
    /// judged on its fixed part before the first placeholder; nil when it may.
    public static func templatePathProblem(_ path: TemplateText) -> String? {
        var fixed = ""
        for segment in path.segments {
            guard case let .literal(text) = segment else { break }
            fixed += text
        }
        if let problem = hiddenOrParent(fixed) { return "attachment '\(path.source)' \(problem)" }
        guard folders.contains(where: { fixed.hasPrefix($0 + "/") }) else {
            return "attachment '\(path.source)' is outside \(folders.map { $0 + "/" }.joined(separator: " and ")); "
                + "attachments come only from those folders (write e.g. templates/attachments/guide.pdf)"
        }
        return nil
    }

    /// The file `path` names, when it is a regular file inside an allowed folder.
    public func resolve(_ path: String) -> Result<(url: URL, size: Int), StageFailure> {
        func refuse(_ why: String) -> Result<(url: URL, size: Int), StageFailure> {
            .failure(StageFailure(.invalid, code: .attachmentNotAllowed, "attachment '\(path)' \(why)"))
        }
        guard !path.isEmpty, !path.contains("\0") else { return refuse("is empty or holds a NUL byte") }
        if let problem = Self.hiddenOrParent(path) { return refuse(problem) }
        let candidate = (path.hasPrefix("/") ? URL(fileURLWithPath: path) : root.appendingPathComponent(path))
            .standardizedFileURL.resolvingSymlinksInPath()
        guard let folder = allowed.first(where: { candidate.path.hasPrefix($0.path + "/") }) else {
            return refuse("is not a file in \(Self.folders.map { $0 + "/" }.joined(separator: " or ")); attachments come only from those folders")
        }
        if let problem = Self.hiddenOrParent(String(candidate.path.dropFirst(folder.path.count + 1))) {
            return refuse("leads through a link to a path that \(problem)")
        }

        var info = stat()
        guard lstat(candidate.path, &info) == 0 else {
            return .failure(StageFailure(.invalid, code: .attachmentMissing, "attachment '\(path)' does not exist"))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            return .failure(StageFailure(.invalid, code: .attachmentMissing, "attachment '\(path)' is not a regular file"))
        }
        return .success((candidate, Int(info.st_size)))
    }

    /// "names a hidden file or folder" or "climbs out with '..'" for such a path; nil otherwise.
    static func hiddenOrParent(_ path: String) -> String? {
        for component in path.split(separator: "/") {
            if component == ".." { return "climbs out with '..'" }
            if component.hasPrefix(".") && component != "." { return "names a hidden file or folder ('\(component)')" }
        }
        return nil
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
            return StageFailure(.invalid, code: .messageTooLarge,
                                "the message with attachments is about \(estimate >> 10) KB, over the \(limit >> 10) KB max_size of mail account '\(mail.account)'")
        }
        return nil
    }
}
