import Foundation
import Testing
import HeraldCore

@Suite(.timeLimit(.minutes(1))) struct ReceiptTests {
    @Test func receiptsUpdateTheLedgerOnceAndKeepTheUnmatched() async throws {
        let ledger = MemoryLedger(), log = MemoryEventLog()
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        let a = MessageID("ID-A"), b = MessageID("ID-B")
        try await ledger.record([
            LedgerEntry(id: a, batch: "x", row: 1, channel: .sms, template: "t", status: .sent, providerID: "aliyun:932702304080415357^0", updatedAt: now),
            LedgerEntry(id: b, batch: "x", row: 2, channel: .sms, template: "t", status: .sent, providerID: "aliyun:932702304080415357^1", updatedAt: now),
        ])
        let ingest = ReceiptIngest(ledger: ledger, log: log, clock: { now })
        // As the Aliyun parser reads the documented push (ProviderReceiptsTests), plus one that matches nothing.
        var receipts = [
            DeliveryReceipt(channel: "aliyun", messageID: "ID-A", serial: "932702304080415357^0", mobile: "13800138000", delivered: true,
                            code: "DELIVERED", message: "用户接收成功", reportedAt: "2026-11-27 13:00:05"),
            DeliveryReceipt(channel: "aliyun", messageID: nil, serial: "932702304080415357^1", mobile: "13900139000", delivered: false,
                            code: "MK:0001", message: "用户关机", reportedAt: "2026-11-27 13:00:09"),
        ]
        receipts.append(DeliveryReceipt(channel: "aliyun", messageID: nil, serial: "999^9", mobile: "13700137000", delivered: true,
                                        code: "DELIVERED", message: "", reportedAt: nil))
        let report = try await ingest.apply(receipts)
        #expect(report.delivered == 1 && report.undelivered == 1 && report.duplicates == 0)
        #expect(report.unmatched.map(\.serial) == ["999^9"])
        #expect(ledger.all[a]?.status == .delivered, "matched by out_id")
        #expect(ledger.all[b]?.status == .undelivered, "matched by biz_id")
        #expect(ledger.all[b]?.errorCode == "MK:0001")
        #expect(log.events.map(\.status) == [.delivered, .undelivered])
        #expect(log.events.last?.error?.reason == "用户关机")

        let again = try await ingest.apply(receipts)
        #expect(again.duplicates == 2 && again.delivered == 0, "a re-pushed receipt changes nothing")
        #expect(log.events.count == 2)
    }
}
