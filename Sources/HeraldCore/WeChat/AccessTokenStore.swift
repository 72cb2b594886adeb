import Foundation
import Synchronization

/// A cached access token and when it stops working.
public struct AccessToken: Sendable, Hashable {
    /// The access token.
    public var token: String
    /// When it stops working.
    public var expiresAt: Date

    /// Creates a token.
    public init(token: String, expiresAt: Date) {
        self.token = token
        self.expiresAt = expiresAt
    }
}

/// Access tokens shared by every run and process of a workspace (WeChat allows few fetches a day).
///
/// ```swift
/// let store = MemoryAccessTokenStore()
/// try await store.save(AccessToken(token: "t", expiresAt: later), app: "wx123")
/// try await store.token(app: "wx123")?.token   // "t"
/// ```
public protocol AccessTokenStore: Sendable {
    /// The token saved for `app`, expired or not; nil when none was saved.
    func token(app: String) async throws -> AccessToken?
    /// Saves `app`'s token, replacing the one before.
    func save(_ token: AccessToken, app: String) async throws
}

/// The in-memory twin.
public final class MemoryAccessTokenStore: AccessTokenStore, Sendable {
    private let tokens = Mutex<[String: AccessToken]>([:])

    /// Creates an empty store.
    public init() {}

    public func token(app: String) async throws -> AccessToken? { tokens.withLock { $0[app] } }

    public func save(_ token: AccessToken, app: String) async throws { tokens.withLock { $0[app] = token } }
}
