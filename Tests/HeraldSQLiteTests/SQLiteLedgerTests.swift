import Foundation
import Testing
import GRDB
import HeraldCore
import HeraldSQLite
import HeraldTestSupport

@Suite(.timeLimit(.minutes(1))) struct SQLiteLedgerTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    @Test func recordsLooksUpUpdatesAndSurvivesReopening() async throws {
        let workspace = try TemporaryWorkspace()
        let url = workspace.url.appendingPathComponent("outbox/herald.sqlite")
        let batch = BatchContext(id: "sha256:feed", file: "a.csv")
        let a = batch.messageID(row: 1, channel: "mail"), b = batch.messageID(row: 2, channel: "sms")
        do {
            let ledger = try SQLiteLedger(url: url)
            #expect(try await ledger.knows(batch: batch.id) == false)
            try await ledger.record([
                LedgerEntry(id: a, batch: batch.id, row: 1, channel: .mail, template: "t", status: .sent, providerID: "<x@y>", updatedAt: now),
                LedgerEntry(id: b, batch: batch.id, row: 2, channel: .sms, template: "t", status: .deferred, errorCode: "451",
                            errorMessage: "later", updatedAt: now),
            ])
            try await ledger.record([LedgerEntry(id: b, batch: batch.id, row: 2, channel: .sms, template: "t", status: .sent, attempt: 2, updatedAt: now)])
        }
        let reopened = try SQLiteLedger(url: url)
        #expect(try await reopened.knows(batch: batch.id))
        #expect(try await reopened.knows(batch: "sha256:other") == false)
        #expect(try await reopened.statuses(of: [a, b, MessageID("nope")]) == [a: .sent, b: .sent])
        let attempts = try await reopened.database.read { db in
            try Int.fetchOne(db, sql: "SELECT attempt FROM ledger WHERE message_id = ?", arguments: [b.value])
        }
        #expect(attempts == 2)
    }

    @Test func lookupsWorkPastTheSQLiteVariableLimit() async throws {
        let workspace = try TemporaryWorkspace()
        let ledger = try SQLiteLedger(url: workspace.url.appendingPathComponent("herald.sqlite"))
        let batch = BatchContext(id: "big", file: "big.csv")
        let entries = (1...1200).map { LedgerEntry(id: batch.messageID(row: $0, channel: "sms"), batch: "big", row: $0, channel: .sms,
                                                  template: "t", status: .sent, updatedAt: now) }
        try await ledger.record(entries)
        #expect(try await ledger.statuses(of: entries.map(\.id)).count == 1200)
    }
}

/// What both ledgers (SQLite and its in-memory twin) promise about fingerprints, files and trust.
@Suite(.timeLimit(.minutes(1))) struct LedgerHistoryTests {
    let now = Date(timeIntervalSince1970: 1_795_000_000)

    func ledgers() throws -> [(String, any Ledger, TemporaryWorkspace)] {
        let workspace = try TemporaryWorkspace()
        return [("sqlite", try SQLiteLedger(url: workspace.url.appendingPathComponent("herald.sqlite")), workspace),
                ("memory", MemoryLedger(), workspace)]
    }

    @Test func fingerprintsSurviveLaterUpdatesAndABatchKeepsItsFirstFile() async throws {
        for (name, ledger, _) in try ledgers() {
            let id = MessageID(batch: "promo-1", row: 1, channel: "mail")
            try await ledger.record([LedgerEntry(id: id, batch: "promo-1", row: 1, channel: .mail, template: "t", status: .sent,
                                           updatedAt: now, fingerprint: "f1", file: "first.json")])
            // A receipt or a retry records the message again without its fingerprint or with another file.
            try await ledger.record([LedgerEntry(id: id, batch: "promo-1", row: 1, channel: .mail, template: "t", status: .delivered,
                                           updatedAt: now, file: "second.json")])
            #expect(try await ledger.records(of: [id]) == [id: LedgerRecord(status: .delivered, fingerprint: "f1", file: "first.json")], "\(name)")
        }
    }

    /// A ledger that started beside empty logs is trusted when its first chunk's write failed
    /// after the log lines were written (the database went away between the two): the send
    /// journal puts that chunk in the ledger at the next run. A lost one, replaced by a new empty
    /// ledger, is still refused.
    @Test func aLedgerThatStartedWithTheLogsIsNotTakenForALostOne() async throws {
        for (name, ledger, workspace) in try ledgers() {
            let logs = workspace.url.appendingPathComponent("log-\(name)")
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
            try await LedgerHistory.check(ledger, logDirectory: logs)  // no logs: a new workspace
            try Data("{\"message_id\":\"a\",\"batch\":\"b\",\"status\":\"sent\"}\n".utf8).write(to: logs.appendingPathComponent("2026-11-30.jsonl"))
            try await LedgerHistory.check(ledger, logDirectory: logs)
            let replacement: any Ledger = name == "sqlite"
                ? try SQLiteLedger(url: workspace.url.appendingPathComponent("replaced.sqlite")) : MemoryLedger()
            await #expect(throws: LedgerLost.self, "\(name)") { try await LedgerHistory.check(replacement, logDirectory: logs) }
        }
    }

    @Test func anEmptyOrHalfRebuiltLedgerIsNotTrusted() async throws {
        for (name, ledger, workspace) in try ledgers() {
            let logs = workspace.url.appendingPathComponent("log-\(name)")
            try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
            try Data("{\"message_id\":\"a\",\"batch\":\"b\",\"status\":\"sent\"}\n".utf8).write(to: logs.appendingPathComponent("2026-11-30.jsonl"))
            await #expect(throws: LedgerLost.self, "\(name)") { try await LedgerHistory.check(ledger, logDirectory: logs) }
            // A rebuild killed after its first chunk: entries exist, but the ledger is still not trusted.
            try await ledger.markRebuilding()
            try await ledger.record([LedgerEntry(id: MessageID("a"), batch: "b", row: 1, channel: nil, template: nil, status: .sent, updatedAt: now)])
            await #expect(throws: LedgerLost.self, "\(name)") { try await LedgerHistory.check(ledger, logDirectory: logs) }
            let report = try await LedgerHistory.rebuild(ledger, logDirectory: logs, now: now)
            #expect(report.messages == 1)
            try await LedgerHistory.check(ledger, logDirectory: logs)
        }
    }
}
