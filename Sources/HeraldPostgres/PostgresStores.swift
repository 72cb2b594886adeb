import Foundation
import HeraldCore

/// Every store of Herald in one PostgreSQL database, over one pool: what `store.url` switches on.
///
/// ```swift
/// let stores = try PostgresStores(settings: configuration.store, worker: configuration.worker)
/// let context = RunContext(workspace: workspace, transports: transports, ledger: stores.ledger, log: log, queue: stores.queue)
/// ```
public struct PostgresStores: Sendable {
    /// The connection pool all of them share.
    public let pool: PostgresPool
    /// The ledger.
    public let ledger: PostgresLedger
    /// Per-recipient cap counters.
    public let counters: PostgresRecipientCounters
    /// WeChat access tokens.
    public let tokens: PostgresAccessTokenStore
    /// 站内信 and 系统公告.
    public let inbox: PostgresInboxStore
    /// The retry spool.
    public let spool: PostgresSpool
    /// The work queue.
    public let queue: PostgresWorkQueue
    /// Rate buckets shared by every worker.
    public let rates: PostgresRateBuckets
    /// Opt-outs and suppressions Herald records.
    public let optOuts: PostgresOptOutStore
    /// Daily quotas per account.
    public let quotas: PostgresAccountQuotas
    /// Receipts pushed to `herald serve`, waiting for a worker.
    public let receipts: PostgresReceiptQueue
    /// Digests collecting rows, from every worker.
    public let digests: PostgresDigestStore
    /// `Idempotency-Key` records of `POST /v1/notifications`, for every replica.
    public let ingest: PostgresIngestRecords
    /// Sends recorded as they happen, for chunks another worker takes over.
    public let progress: PostgresSendProgress

    /// Connects to `settings.url` and migrates every store (under an advisory lock, so workers
    /// starting together migrate once).
    public init(settings: StoreSettings, worker: WorkerSettings) throws {
        guard let url = settings.url?.value, !url.isEmpty else {
            throw PostgresStoreError("store.url is not set")
        }
        try self.init(pool: PostgresPool(url: url, size: settings.pool, schema: settings.schema), worker: worker)
    }

    /// Every store over `pool`.
    public init(pool: PostgresPool, worker: WorkerSettings) throws {
        self.pool = pool
        if pool.schema != "public" {
            try pool.withSession { try $0.execute("CREATE SCHEMA IF NOT EXISTS \(pool.schema)") }
        }
        inbox = try PostgresInboxStore(pool: pool)
        ledger = try PostgresLedger(pool: pool, worker: worker.resolvedName, siteMessages: inbox)
        counters = try PostgresRecipientCounters(pool: pool)
        tokens = try PostgresAccessTokenStore(pool: pool)
        spool = try PostgresSpool(pool: pool, worker: worker.resolvedName, lease: worker.lease)
        queue = try PostgresWorkQueue(pool: pool)
        rates = try PostgresRateBuckets(pool: pool)
        quotas = try PostgresAccountQuotas(pool: pool)
        optOuts = try PostgresOptOutStore(pool: pool)
        receipts = try PostgresReceiptQueue(pool: pool)
        digests = try PostgresDigestStore(pool: pool, worker: worker.resolvedName, lease: worker.lease)
        ingest = try PostgresIngestRecords(pool: pool)
        progress = try PostgresSendProgress(pool: pool)
    }
}
