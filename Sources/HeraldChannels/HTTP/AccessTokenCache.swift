import Foundation
import HeraldCore
import Synchronization

/// What one request made with a token came to, and whether the platform refused the token.
struct TokenAnswer: Sendable {
    /// The message's outcome.
    var outcome: DeliveryOutcome
    /// The platform refused the token (expired or invalid): fetch another and try again.
    var tokenRejected = false
}

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

    /// Sends with a token: `attempt` makes the request with it (nil: no HTTP handle). A token the
    /// platform refuses is fetched again, forced, and the request made once more; a token that
    /// cannot be had is the send's outcome.
    func send(fetch: @escaping @Sendable () async -> Result<(String, Double), FailedFetch>,
              attempt: @escaping @Sendable (String) async -> TokenAnswer?) async -> DeliveryOutcome {
        var forced = false
        while true {
            let token: String
            switch await self.token(force: forced, fetch: fetch) {
            case let .success(value): token = value
            case let .failure(failed): return failed.outcome
            }
            guard let answer = await attempt(token) else { return .transient(code: "curl_init", "libcurl could not create a handle") }
            if answer.tokenRejected, !forced {
                forced = true
                continue
            }
            return answer.outcome
        }
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
