import Foundation

/// Where Herald records what it learns about recipients by itself — a one-click unsubscribe, a
/// complaint, a hard bounce — so every later run and every worker honours it.
///
/// Embedded, that is the workspace's `recipients/preferences.csv` and `recipients/suppressions.csv`
/// (`FileOptOutStore`). With a PostgreSQL store it is the database (HeraldPostgres's
/// `PostgresOptOutStore`), because serve replicas and workers on other machines do not share
/// files; the CSV files operators edit are read as well.
///
/// ```swift
/// try await store.recordOptOut(address: "li@example.com", channel: .mail, category: .marketing, at: now)
/// try await store.recordSuppression(address: "gone@example.com", reason: "bounce", at: now)
/// try await store.load(into: preferences)
/// ```
public protocol OptOutStore: Sendable {
    /// Records an opt-out of `category` on `channel` for `address`, durably; returns whether it was new.
    @discardableResult
    func recordOptOut(address: String, channel: Channel, category: TemplateCategory, at: Date) async throws -> Bool
    /// Adds `address` to the suppression list with `reason` (`bounce`, `complaint`), durably;
    /// returns whether it was new.
    @discardableResult
    func recordSuppression(address: String, reason: String, at: Date) async throws -> Bool
    /// Adds what the store holds to `preferences` (a file store's files are read by `Preferences.load`).
    func load(into preferences: Preferences) async throws
}

/// The embedded store: `recipients/preferences.csv` and `recipients/suppressions.csv`.
public struct FileOptOutStore: OptOutStore {
    /// The workspace folder.
    public let root: URL

    /// The files of the workspace at `root`.
    public init(root: URL) {
        self.root = root
    }

    public func recordOptOut(address: String, channel: Channel, category: TemplateCategory, at: Date) throws -> Bool {
        try Preferences.recordOptOut(root: root, address: address, channel: channel, category: category)
    }

    public func recordSuppression(address: String, reason: String, at: Date) throws -> Bool {
        try Preferences.appendSuppression(to: WorkspacePaths(root: root).suppressions, address: address, reason: reason, since: at)
        return true
    }

    public func load(into preferences: Preferences) throws {}
}
