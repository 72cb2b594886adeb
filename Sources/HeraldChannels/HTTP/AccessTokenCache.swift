import Foundation
import HeraldCore
import Synchronization

/// One app's access token, as the chat platforms hand them out: kept with its expiry in the
/// workspace's token store (shared by runs and PostgreSQL workers), fetched again 5 minutes before
/// it expires or, forced, after the platform refused it. Fetches run one at a time, so concurrent
/// sends do not fetch a token each; once the platform refuses the app's credentials, no further
/// fetch is made by this cache (the account is paused; the next run tries again).
final class AccessTokenCache: Sendable {
    private let store: any AccessTokenStore
    private let name: String
    private let clock: @Sendable () -> Date
    private let gate = AsyncGate()
    private let refused = Mutex<FailedFetch?>(nil)

    /// Refresh this long before the token expires.
    static let refreshAhead: TimeInterval = 300

    /// The cache of the token stored under `name` (one per app).
    init(store: any AccessTokenStore, name: String, clock: @escaping @Sendable () -> Date) {
        self.store = store
        self.name = name
        self.clock = clock
    }

    /// A token good for a while yet, or why there is none. `fetch` asks the platform: a token and
    /// its lifetime in seconds, or a failure (one that stops the account is remembered).
    func token(force: Bool, fetch: @escaping @Sendable () async -> Result<(String, Double), FailedFetch>) async -> Result<String, FailedFetch> {
        await gate.run {
            if let refused = refused.withLock({ $0 }) { return .failure(refused) }
            let now = clock()
            if !force, let cached = try? await store.token(app: name), cached.expiresAt.timeIntervalSince(now) > Self.refreshAhead {
                return .success(cached.token)
            }
            switch await fetch() {
            case let .success((token, lifetime)):
                try? await store.save(AccessToken(token: token, expiresAt: now.addingTimeInterval(lifetime)), app: name)
                return .success(token)
            case let .failure(failed):
                if failed.outcome.stopsAccount { refused.withLock { $0 = failed } }
                return .failure(failed)
            }
        }
    }
}
