import Foundation
import HeraldCore
import PostgresNIO

/// Per-recipient cap counters in PostgreSQL: every worker counts every other worker's sends.
/// Table `herald_recipient_sends(channel, address, sent_at)`.
public final class PostgresRecipientCounters: RecipientCounters, Sendable {
    private let pool: PostgresPool

    /// The counters in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("recipient-sends-1", """
            CREATE TABLE herald_recipient_sends (channel TEXT NOT NULL, address TEXT NOT NULL, sent_at TIMESTAMPTZ NOT NULL);
            CREATE INDEX herald_recipient_sends_address ON herald_recipient_sends (channel, address, sent_at);
            """)])
    }

    public func sends(channel: HeraldCore.Channel, addresses: [String], since: Date) async throws -> [String: [Date]] {
        guard !addresses.isEmpty else { return [:] }
        return try await pool.connection { session in
            try await Self.sends(channel: channel, addresses: addresses, since: since, in: session)
        }
    }

    public func record(_ sends: [(channel: HeraldCore.Channel, address: String, at: Date)]) async throws {
        guard !sends.isEmpty else { return }
        try await pool.connection { session in try await Self.insert(sends, in: session) }
    }

    static func insert(_ sends: [(channel: HeraldCore.Channel, address: String, at: Date)], in session: PostgresSession) async throws {
        guard !sends.isEmpty else { return }
        try await session.run("""
            INSERT INTO herald_recipient_sends (channel, address, sent_at)
            SELECT channel, address, to_timestamp(at) FROM unnest($1::text[], $2::text[], $3::float8[]) AS x(channel, address, at)
            """, [sends.map(\.channel.rawValue), sends.map(\.address), sends.map(\.at.timeIntervalSince1970)])
    }

    static func sends(channel: HeraldCore.Channel, addresses: [String], since: Date, in session: PostgresSession) async throws -> [String: [Date]] {
        var result: [String: [Date]] = [:]
        for row in try await session.rows("""
            SELECT address, extract(epoch FROM sent_at)::float8 FROM herald_recipient_sends
            WHERE channel = $1 AND address = ANY($2) AND sent_at > to_timestamp($3) ORDER BY sent_at
            """, [channel.rawValue, addresses, since.timeIntervalSince1970]) {
            let (address, seconds) = try row.decode((String, Double).self)
            result[address, default: []].append(Date(timeIntervalSince1970: seconds))
        }
        return result
    }

    /// The advisory lock that makes cap decisions one worker at a time ("CAPS").
    static let decisionLock: Int64 = 0x43_41_50_53

    public var recordsWhileDeciding: Bool { true }

    public func deciding(_ decide: (any RecipientCounters) async throws -> [(channel: HeraldCore.Channel, address: String, at: Date)]) async throws {
        try await pool.inTransaction { session in
            try await session.run("SELECT pg_advisory_xact_lock(\(Self.decisionLock))")
            try await Self.insert(try await decide(InTransaction(session: session)), in: session)
        }
    }

    /// The counters inside a decision's transaction.
    private struct InTransaction: RecipientCounters {
        let session: PostgresSession

        func sends(channel: HeraldCore.Channel, addresses: [String], since: Date) async throws -> [String: [Date]] {
            guard !addresses.isEmpty else { return [:] }
            return try await PostgresRecipientCounters.sends(channel: channel, addresses: addresses, since: since, in: session)
        }

        func record(_ sends: [(channel: HeraldCore.Channel, address: String, at: Date)]) async throws {
            try await PostgresRecipientCounters.insert(sends, in: session)
        }

        func pruneCounts(before cutoff: Date) async throws {}
    }

    public func pruneCounts(before cutoff: Date) async throws {
        try await pool.connection { session in
            try await session.run("DELETE FROM herald_recipient_sends WHERE sent_at < to_timestamp($1)", [cutoff.timeIntervalSince1970])
        }
    }
}

/// WeChat access tokens in PostgreSQL: one token per app for every worker, so N workers do not
/// fetch N tokens (each fetch invalidates the one before). Table `herald_access_tokens`.
public final class PostgresAccessTokenStore: AccessTokenStore, Sendable {
    private let pool: PostgresPool

    /// The store in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("access-tokens-1", """
            CREATE TABLE herald_access_tokens (app TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);
            """)])
    }

    public func token(app: String) async throws -> AccessToken? {
        try await pool.connection { session in
            try await session.rows("SELECT token, extract(epoch FROM expires_at)::float8 FROM herald_access_tokens WHERE app = $1", [app])
                .first.map { row in
                    let (token, seconds) = try row.decode((String, Double).self)
                    return AccessToken(token: token, expiresAt: Date(timeIntervalSince1970: seconds))
                }
        }
    }

    public func save(_ token: AccessToken, app: String) async throws {
        try await pool.connection { session in
            try await session.run("""
                INSERT INTO herald_access_tokens (app, token, expires_at) VALUES ($1, $2, to_timestamp($3))
                ON CONFLICT (app) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
                """, [app, token.token, token.expiresAt.timeIntervalSince1970])
        }
    }
}

/// Token buckets in PostgreSQL, so `rate: 20/s` is 20/s for all workers together. A take is one
/// statement (the function `herald_take_tokens`), which locks the bucket's row for its length.
public final class PostgresRateBuckets: SharedRateBuckets, Sendable {
    private let pool: PostgresPool

    /// The buckets in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("rate-buckets-1", """
            CREATE TABLE herald_rate_buckets (key TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
            CREATE FUNCTION herald_take_tokens(bucket TEXT, per_second DOUBLE PRECISION, capacity DOUBLE PRECISION, wanted INTEGER,
                                               reserve BOOLEAN, OUT granted INTEGER, OUT balance DOUBLE PRECISION,
                                               OUT now_epoch DOUBLE PRECISION)
            LANGUAGE plpgsql AS $$
            DECLARE
                at TIMESTAMPTZ := clock_timestamp();
                have DOUBLE PRECISION;
            BEGIN
                INSERT INTO herald_rate_buckets (key, tokens, updated_at) VALUES (bucket, capacity, at) ON CONFLICT (key) DO NOTHING;
                SELECT LEAST(capacity, tokens + GREATEST(0, extract(epoch FROM at - updated_at)) * per_second) INTO have
                    FROM herald_rate_buckets WHERE key = bucket FOR UPDATE;
                IF reserve THEN
                    granted := wanted;
                ELSIF have >= 1 THEN
                    granted := GREATEST(1, LEAST(wanted, floor(have)::INTEGER));
                ELSE
                    granted := 0;
                END IF;
                balance := have - granted;
                UPDATE herald_rate_buckets SET tokens = balance, updated_at = at WHERE key = bucket;
                now_epoch := extract(epoch FROM at);
            END $$;
            """)])
    }

    public func take(_ key: TransportKey, rate: RateLimit, upTo count: Int) async throws -> (granted: Int, wait: Double) {
        let perSecond = Double(rate.count) / rate.period.seconds
        let (granted, balance, _) = try await call(key.description, perSecond: perSecond, count: count, reserve: false)
        return (granted, granted > 0 ? 0 : max(0.001, (1 - balance) / perSecond))
    }

    public func reserve(_ key: TransportKey, rate: RateLimit, count: Int) async throws -> [Date] {
        let perSecond = Double(rate.count) / rate.period.seconds
        let (_, balance, now) = try await call(key.description, perSecond: perSecond, count: count, reserve: true)
        // The balance after the reservation; the i-th reserved message goes when its token is due.
        let first = balance + Double(count)
        return (0..<count).map { i in
            Date(timeIntervalSince1970: now + max(0, -(first - Double(i + 1))) / perSecond)
        }
    }

    private func call(_ key: String, perSecond: Double, count: Int, reserve: Bool) async throws -> (Int, Double, Double) {
        try await pool.connection { session in
            guard let row = try await session.rows("SELECT granted, balance, now_epoch FROM herald_take_tokens($1, $2, $3, $4::integer, $5)",
                                              [key, perSecond, max(1, perSecond), count, reserve]).first else {
                throw PostgresStoreError("herald_take_tokens returned nothing")
            }
            return try row.decode((Int, Double, Double).self)
        }
    }
}

/// Daily quotas per account in PostgreSQL (`herald_account_quota`), shared by every worker; a
/// take is one statement that locks the account's row for the day.
public final class PostgresAccountQuotas: AccountQuotas, Sendable {
    private let pool: PostgresPool

    /// The quotas in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("account-quota-1", """
            CREATE TABLE herald_account_quota (account TEXT NOT NULL, day TEXT NOT NULL, used INTEGER NOT NULL,
                                               PRIMARY KEY (account, day));
            CREATE FUNCTION herald_take_quota(key TEXT, on_day TEXT, quota INTEGER, wanted INTEGER) RETURNS INTEGER
            LANGUAGE plpgsql AS $$
            DECLARE
                taken INTEGER;
                granted INTEGER;
            BEGIN
                INSERT INTO herald_account_quota (account, day, used) VALUES (key, on_day, 0) ON CONFLICT DO NOTHING;
                SELECT used INTO taken FROM herald_account_quota WHERE account = key AND day = on_day FOR UPDATE;
                granted := GREATEST(0, LEAST(wanted, quota - taken));
                UPDATE herald_account_quota SET used = used + granted WHERE account = key AND day = on_day;
                RETURN granted;
            END $$;
            """)])
    }

    public func take(_ key: TransportKey, day: String, limit: Int, upTo count: Int) async throws -> Int {
        try await pool.connection { session in
            try await session.rows("SELECT herald_take_quota($1, $2, $3::int, $4::int)", [key.description, day, limit, count]).first?.decode(Int.self) ?? 0
        }
    }

    public func used(_ key: TransportKey, day: String) async throws -> Int {
        try await pool.connection { session in
            try await session.rows("SELECT used FROM herald_account_quota WHERE account = $1 AND day = $2", [key.description, day]).first?.decode(Int.self) ?? 0
        }
    }
}

/// Opt-outs and suppressions Herald records itself (one-click unsubscribes, complaints, hard
/// bounces) in PostgreSQL, so every serve replica and worker sees them: `herald_opt_outs` and
/// `herald_suppressions`. The workspace's CSV files are still read beside them.
public final class PostgresOptOutStore: OptOutStore, Sendable {
    private let pool: PostgresPool

    /// The store in `pool`'s database, migrated.
    public init(pool: PostgresPool) throws {
        self.pool = pool
        try pool.migrate([("opt-outs-1", """
            CREATE TABLE herald_opt_outs (address TEXT NOT NULL, channel TEXT NOT NULL, category TEXT NOT NULL,
                                          created_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (address, channel, category));
            CREATE TABLE herald_suppressions (address TEXT PRIMARY KEY, reason TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL);
            """),
            // Rules hold in a tenant ('' is every tenant: what was recorded before).
            ("opt-outs-2", """
            ALTER TABLE herald_opt_outs ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
            ALTER TABLE herald_opt_outs DROP CONSTRAINT herald_opt_outs_pkey, ADD PRIMARY KEY (tenant, address, channel, category);
            ALTER TABLE herald_suppressions ADD COLUMN tenant TEXT NOT NULL DEFAULT '';
            ALTER TABLE herald_suppressions DROP CONSTRAINT herald_suppressions_pkey, ADD PRIMARY KEY (tenant, address);
            """),
        ])
    }

    public func recordOptOut(address: String, channel: HeraldCore.Channel, category: TemplateCategory, tenant: String?,
                             at: Date) async throws -> Bool {
        try await pool.connection { session in
            try await !session.rows("""
                INSERT INTO herald_opt_outs (address, channel, category, created_at, tenant) VALUES ($1, $2, $3, to_timestamp($4), $5)
                ON CONFLICT DO NOTHING RETURNING 1
                """, [Preferences.normalize(address, channel: channel), channel.rawValue, category.rawValue,
                      at.timeIntervalSince1970, tenant ?? ""]).isEmpty
        }
    }

    public func recordSuppression(address: String, reason: String, tenant: String?, at: Date) async throws -> Bool {
        try await pool.connection { session in
            try await !session.rows("""
                INSERT INTO herald_suppressions (address, reason, created_at, tenant) VALUES ($1, $2, to_timestamp($3), $4)
                ON CONFLICT DO NOTHING RETURNING 1
                """, [Preferences.normalize(address, channel: nil), reason, at.timeIntervalSince1970, tenant ?? ""]).isEmpty
        }
    }

    public func load(into preferences: Preferences) async throws {
        try await pool.connection { session in
            for row in try await session.rows("SELECT address, channel, category, tenant FROM herald_opt_outs") {
                let (address, channel, category, tenant) = try row.decode((String, String, String, String).self)
                preferences.optOut(address: address, channel: HeraldCore.Channel(rawValue: channel), category: TemplateCategory(rawValue: category),
                                   tenant: tenant.isEmpty ? nil : tenant)
            }
            for row in try await session.rows("SELECT address, reason, tenant FROM herald_suppressions") {
                let (address, reason, tenant) = try row.decode((String, String, String).self)
                preferences.addSuppression(address, reason: reason, tenant: tenant.isEmpty ? nil : tenant)
            }
        }
    }
}
