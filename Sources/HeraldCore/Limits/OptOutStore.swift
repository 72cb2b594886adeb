import Foundation

/// Where Herald records what it learns about recipients by itself — a one-click unsubscribe, a
/// complaint, a hard bounce — so every later run and every worker honours it.
///
/// Embedded, that is the workspace's `recipients/preferences.csv` and `recipients/suppressions.csv`
/// (`FileOptOutStore`). With a PostgreSQL store it is the database (HeraldPostgres's
/// `PostgresOptOutStore`), because serve replicas and workers on other machines do not share
/// files; the CSV files operators edit are read as well.
///
/// What Herald learns holds in the tenant of the message it learned it from (a tenant-1 mail's
/// unsubscribe link does not silence tenant 0); a nil tenant is every tenant.
///
/// ```swift
/// try await store.recordOptOut(address: "li@example.com", channel: .mail, category: .marketing, tenant: "1", at: now)
/// try await store.recordSuppression(address: "gone@example.com", reason: "bounce", tenant: "1", at: now)
/// try await store.load(into: preferences)
/// ```
public protocol OptOutStore: Sendable {
    /// Records an opt-out of `category` on `channel` for `address` in `tenant` (nil: every
    /// tenant), durably; returns whether it was new.
    @discardableResult
    func recordOptOut(address: String, channel: Channel, category: TemplateCategory, tenant: String?, at: Date) async throws -> Bool
    /// Adds `address` to the suppression list of `tenant` (nil: every tenant) with `reason`
    /// (`bounce`, `complaint`), durably; returns whether it was new.
    @discardableResult
    func recordSuppression(address: String, reason: String, tenant: String?, at: Date) async throws -> Bool
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

    public func recordOptOut(address: String, channel: Channel, category: TemplateCategory, tenant: String?, at: Date) throws -> Bool {
        try Preferences.recordOptOut(root: root, address: address, channel: channel, category: category, tenant: tenant)
    }

    public func recordSuppression(address: String, reason: String, tenant: String?, at: Date) throws -> Bool {
        try Preferences.appendSuppression(to: WorkspacePaths(root: root).suppressions, address: address, reason: reason,
                                          tenant: tenant, since: at)
        return true
    }

    public func load(into preferences: Preferences) throws {}
}
