import Foundation
import Synchronization
import Testing
import HeraldCore
import HeraldPostgres
import HeraldSQLite
import HeraldTestSupport

/// What every implementation of Core's store protocols promises, held to the SQLite stores over a
/// real `WorkspaceDatabase`, to their in-memory twins and to PostgreSQL (when a test server is given).
@Suite(.timeLimit(.minutes(1))) struct StoreContractTests {
    typealias Kind = StoreKind

    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    /// The stores of one kind; SQLite ones share one database file in a temporary folder.
    final class Stores: @unchecked Sendable {
        let ledger: any Ledger
        let counters: any RecipientCounters
        let tokens: any AccessTokenStore
        let quotas: any AccountQuotas
        let workspace: TemporaryWorkspace

        init(_ kind: Kind) throws {
            workspace = try TemporaryWorkspace()
            switch kind {
            case .sqlite:
                let database = try WorkspaceDatabase(url: WorkspacePaths(root: workspace.url).database)
                ledger = try SQLiteLedger(database: database)
                counters = try SQLiteRecipientCounters(database: database)
                tokens = try SQLiteAccessTokenStore(database: database)
                quotas = try SQLiteAccountQuotas(database: database)
            case .memory:
                ledger = MemoryLedger()
                counters = MemoryRecipientCounters()
                tokens = MemoryAccessTokenStore()
                quotas = MemoryAccountQuotas()
            case .postgres:
                let pool = try PostgresTestDatabase.pool()
                ledger = try PostgresLedger(pool: pool)
                counters = try PostgresRecipientCounters(pool: pool)
                tokens = try PostgresAccessTokenStore(pool: pool)
                quotas = try PostgresAccountQuotas(pool: pool)
            }
        }
    }

    static func entry(_ row: Int, batch: String = "b1", status: DeliveryStatus = .sent, provider: String? = nil,
                      fingerprint: String? = "fp", file: String? = "a.csv") -> LedgerEntry {
        LedgerEntry(id: MessageID(batch: batch, row: row, channel: "sms"), batch: batch, row: row, channel: .sms, template: "t",
                    status: status, providerID: provider, updatedAt: t0, fingerprint: fingerprint, file: file)
    }

    @Test(arguments: Kind.allCases)
    func dailyQuotasGrantWhatIsLeftPerDayEvenToConcurrentTakers(kind: Kind) async throws {
        let stores = try Stores(kind)
        let quotas = stores.quotas
        #expect(try await quotas.take(TransportKey(.mail, "a"), day: "2026-12-01", limit: 5, upTo: 3) == 3)
        #expect(try await quotas.take(TransportKey(.mail, "a"), day: "2026-12-01", limit: 5, upTo: 3) == 2)
        #expect(try await quotas.take(TransportKey(.mail, "a"), day: "2026-12-01", limit: 5, upTo: 3) == 0)
        #expect(try await quotas.take(TransportKey(.mail, "a"), day: "2026-12-02", limit: 5, upTo: 3) == 3, "a new day starts again")
        #expect(try await quotas.take(TransportKey(.mail, "b"), day: "2026-12-01", limit: 5, upTo: 1) == 1, "each account has its own")
        #expect(try await quotas.used(TransportKey(.mail, "a"), day: "2026-12-01") == 5)
        // Eight takers at once never grant more than the quota between them.
        let granted = LockedCounter()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<10 { granted.add((try? await quotas.take(TransportKey(.mail, "c"), day: "2026-12-01", limit: 37, upTo: 1)) ?? 0) }
                }
            }
        }
        #expect(granted.value == 37)
        #expect(try await quotas.used(TransportKey(.mail, "c"), day: "2026-12-01") == 37)
        withExtendedLifetime(stores) {}
    }

    @Test(arguments: Kind.allCases)
    func theLedgerRecordsReplacesAndFindsByIdOrProviderID(kind: Kind) async throws {
        let stores = try Stores(kind)
        let ledger = stores.ledger
        #expect(try await ledger.isBlank())
        #expect(try await ledger.knows(batch: "b1") == false)
        try await ledger.record([Self.entry(1, status: .deferred), Self.entry(2, provider: "biz-2")])
        try await ledger.record([Self.entry(1, status: .sent, provider: "biz-1", fingerprint: nil)])
        #expect(try await ledger.isBlank() == false)
        #expect(try await ledger.knows(batch: "b1"))
        #expect(try await !ledger.knows(batch: "b2"))
        let one = MessageID(batch: "b1", row: 1, channel: "sms"), two = MessageID(batch: "b1", row: 2, channel: "sms")
        #expect(try await ledger.records(of: [one, two, MessageID("none")]) == [
            one: LedgerRecord(status: .sent, fingerprint: "fp", file: "a.csv"),
            two: LedgerRecord(status: .sent, fingerprint: "fp", file: "a.csv"),
        ], "a later record without a fingerprint keeps the earlier one")
        #expect(Set(try await ledger.entries(ids: [], providerIDs: ["biz-1", "biz-2"]).map(\.id)) == [one, two])
        #expect(try await ledger.entries(ids: [two], providerIDs: []).map(\.providerID) == ["biz-2"])
    }

    @Test(arguments: Kind.allCases)
    func recipientCountersCountSendsSinceACutoffAndForgetOlderOnes(kind: Kind) async throws {
        let stores = try Stores(kind)
        defer { withExtendedLifetime(stores) {} }
        let counters = stores.counters
        let t = Self.t0
        try await counters.record([(.sms, "+8613800138000", t), (.sms, "+8613800138000", t), (.sms, "+8613800138000", t.addingTimeInterval(60)),
                             (.mail, "+8613800138000", t), (.sms, "+8613900139000", t.addingTimeInterval(-3600))])
        let sends = try await counters.sends(channel: .sms, addresses: ["+8613800138000", "+8613900139000", "+8610000000000"],
                                       since: t.addingTimeInterval(-1))
        #expect(sends["+8613800138000"]?.count == 3, "two sends in the same instant both count")
        #expect(sends["+8613900139000"] == nil, "older than the cutoff")
        try await counters.pruneCounts(before: t.addingTimeInterval(30))
        #expect(try await counters.sends(channel: .sms, addresses: ["+8613800138000"], since: .distantPast)["+8613800138000"]?.count == 1)
    }

    /// The opt-out stores: the workspace's CSV files (read back by `Preferences.load`) and PostgreSQL
    /// (read back by `load(into:)`); what one process records, a fresh one honours.
    @Test(arguments: [Kind.sqlite] + (Kind.allCases.contains(.postgres) ? [Kind.postgres] : []))
    func optOutsAndSuppressionsAreKeptAndReadBack(kind: Kind) async throws {
        let workspace = try TemporaryWorkspace()
        let store: any OptOutStore = kind == .postgres ? try PostgresOptOutStore(pool: PostgresTestDatabase.pool())
                                                       : FileOptOutStore(root: workspace.url)
        #expect(try await store.recordOptOut(address: "Li@Example.com", channel: .mail, category: .marketing, tenant: nil, at: Self.t0))
        if kind == .postgres {
            #expect(try await !store.recordOptOut(address: "li@example.com", channel: .mail, category: .marketing, tenant: nil, at: Self.t0),
                    "the same opt-out again is not new")
        }
        #expect(try await store.recordSuppression(address: "gone@example.com", reason: "bounce", tenant: nil, at: Self.t0))
        let (fresh, problems) = Preferences.load(root: workspace.url, store: kind == .postgres ? store : nil)
        #expect(problems.isEmpty)
        if kind == .postgres { try await store.load(into: fresh) }
        #expect(fresh.reason(channel: .mail, category: .marketing, userID: nil, address: "li@example.com") != nil)
        #expect(fresh.reason(channel: .mail, category: .transactional, userID: nil, address: "li@example.com") == nil,
                "an opt-out of marketing mail is not one of order mail")
        #expect(fresh.reason(channel: .mail, category: .verification, userID: nil, address: "gone@example.com") != nil,
                "a hard bounce stops even verification mail")
    }

    /// Issue 26: an opt-out or suppression learned from one tenant's message holds in that tenant
    /// only (a tenant-1 unsubscribe link silenced tenant 0); a rule without a tenant holds in all.
    @Test(arguments: [Kind.sqlite] + (Kind.allCases.contains(.postgres) ? [Kind.postgres] : []))
    func whatOneTenantLearnsHoldsInThatTenant(kind: Kind) async throws {
        let workspace = try TemporaryWorkspace(files: [
            // Files from before rules had tenants: their rows are every tenant's, and keep being.
            "recipients/preferences.csv": "user_id,address,channel,category,opt_out\n,old@example.com,mail,marketing,true\n",
            "recipients/suppressions.csv": "address,reason,since\nold-gone@example.com,bounce,2026-01-01T00:00:00Z\n",
        ])
        let store: any OptOutStore = kind == .postgres ? try PostgresOptOutStore(pool: PostgresTestDatabase.pool(size: 2))
                                                       : FileOptOutStore(root: workspace.url)
        let address = "t\(UUID().uuidString.prefix(8).lowercased())@example.com"
        #expect(try await store.recordOptOut(address: address, channel: .mail, category: .marketing, tenant: "1", at: Self.t0))
        #expect(try await store.recordSuppression(address: "gone-" + address, reason: "bounce", tenant: "1", at: Self.t0))
        let (fresh, problems) = Preferences.load(root: workspace.url, store: kind == .postgres ? store : nil)
        #expect(problems.isEmpty, "\(problems)")
        if kind == .postgres { try await store.load(into: fresh) }
        #expect(fresh.reason(channel: .mail, category: .marketing, userID: nil, address: address, tenant: "1") != nil)
        #expect(fresh.reason(channel: .mail, category: .marketing, userID: nil, address: address, tenant: "0") == nil)
        #expect(fresh.reason(channel: .mail, category: .verification, userID: nil, address: "gone-" + address, tenant: "1") != nil)
        #expect(fresh.reason(channel: .mail, category: .transactional, userID: nil, address: "gone-" + address, tenant: "0") == nil)
        for tenant in ["0", "7"] {
            #expect(fresh.reason(channel: .mail, category: .marketing, userID: nil, address: "old@example.com", tenant: tenant) != nil)
            #expect(fresh.reason(channel: .mail, category: .marketing, userID: nil, address: "old-gone@example.com", tenant: tenant) != nil)
        }
        if kind == .sqlite {
            #expect(try workspace.read("recipients/preferences.csv").hasPrefix("user_id,address,channel,category,opt_out,tenant_id\n"))
            #expect(try workspace.read("recipients/suppressions.csv").hasPrefix("address,reason,since,tenant_id\nold-gone@example.com,bounce,"))
        }
    }

    /// Issue 26: of 50 replicas' requests claiming one `Idempotency-Key` at once, exactly one wins.
    @Test(.enabled(if: Kind.allCases.contains(.postgres)))
    func ofFiftyConcurrentClaimsOfOneIngestKeyExactlyOneWins() async throws {
        let records = try PostgresIngestRecords(pool: PostgresTestDatabase.pool(size: 8))
        let key = "api:0:app:claim-\(UUID().uuidString)"
        let claims = try await withThrowingTaskGroup(of: IngestClaim.self) { group in
            for n in 0..<50 { group.addTask { try await records.claim(key: key, bodyHash: "h\(n)", response: "{\"n\":\(n)}") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(claims.filter { $0 == .won }.count == 1)
        guard case let .taken(hash, response, settled, _)? = claims.first(where: { $0 != .won }) else { Issue.record("no loser"); return }
        #expect(!settled && response == "{\"n\":\(hash.dropFirst())}", "the losers see the winner's claim, not yet settled")
        try await records.settle(key: key)
        guard case let .taken(_, _, settledNow, _) = try await records.claim(key: key, bodyHash: "x", response: "{}") else {
            Issue.record("claimed twice"); return
        }
        #expect(settledNow)
    }

    @Test(arguments: Kind.allCases)
    func accessTokensAreSavedPerAppAndReplaced(kind: Kind) async throws {
        let stores = try Stores(kind)
        defer { withExtendedLifetime(stores) {} }
        let tokens = stores.tokens
        #expect(try await tokens.token(app: "wx1") == nil)
        try await tokens.save(AccessToken(token: "a", expiresAt: Self.t0), app: "wx1")
        try await tokens.save(AccessToken(token: "b", expiresAt: Self.t0.addingTimeInterval(7200)), app: "wx1")
        try await tokens.save(AccessToken(token: "c", expiresAt: Self.t0), app: "wx2")
        #expect(try await tokens.token(app: "wx1") == AccessToken(token: "b", expiresAt: Self.t0.addingTimeInterval(7200)))
        #expect(try await tokens.token(app: "wx2")?.token == "c")
    }
}

/// What Herald writes into the workspace's CSV files cannot become a rule it did not mean (issue 26).
@Suite struct OptOutFileTests {
    @Test func aForgedAddressCannotWriteARuleForSomeoneElse() async throws {
        let workspace = try TemporaryWorkspace()
        let store = FileOptOutStore(root: workspace.url)
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        // A complaint's recipient field, as a forger writes it: commas, line breaks, a rule for user 1.
        for forged in ["x@example.com,sms,marketing,true\n1,,,,true\n", "x@example.com\r1,,,,true", "a,b@example.com"] {
            await #expect(throws: BatchRejection.self, "\(forged.debugDescription) is not an address") {
                try await store.recordOptOut(address: forged, channel: .mail, category: .marketing, tenant: nil, at: now)
            }
            await #expect(throws: BatchRejection.self) {
                try await store.recordSuppression(address: forged, reason: "complaint", tenant: nil, at: now)
            }
        }
        // A reason is quoted when it needs to be, so it stays one field of one line.
        #expect(try await store.recordSuppression(address: "gone@example.com", reason: "bounce, 5.1.1\n1", tenant: nil, at: now))
        let (preferences, problems) = Preferences.load(root: workspace.url)
        #expect(problems.isEmpty, "\(problems)")
        #expect(preferences.reason(channel: .sms, category: .marketing, userID: "1", address: "+8613800138000") == nil,
                "user 1 opted out of nothing")
        #expect(preferences.reason(channel: .mail, category: .marketing, userID: nil, address: "gone@example.com")?.contains("bounce, 5.1.1") == true,
                "the quoted reason reads back whole")
    }
}
