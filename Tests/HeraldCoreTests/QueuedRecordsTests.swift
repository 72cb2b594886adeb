import Foundation
import Testing
@testable import HeraldCore
import HeraldTestSupport

/// The compact form of queued chunks: every field of a row comes back as it went in.
@Suite struct QueuedRecordsTests {
    static let full: RecipientRow = {
        var row = RecipientRow(row: 300_000, line: 300_002, template: "order_shipped", channels: ["mail", "sms"],
                               recipient: Recipient(userID: "u-1", userType: "member", tenantID: "t9", email: "李雷@例子.cn",
                                                    mobile: "+86 138 0013 8000", openID: "o-1", miniOpenID: "m-1", locale: "zh-CN",
                                                    timeZone: "Asia/Shanghai"),
                               parameters: ["name": "李雷", "note": "放门口, 谢谢 \"<急>\"\n第二行", "": "空名", "emoji": "📦"],
                               mail: MailExtras(cc: ["a@x.cn", "b@x.cn"], bcc: ["c@x.cn"], attachments: ["files/发票.pdf"],
                                                unsubscribeURL: "https://shop.example.com/u?a=1&b=2"))
        row.sendAt = "2026-12-06T09:00:00+08:00"
        row.recipient.wecomUser = "zhang.san"
        row.recipient.dingtalkUser = "user123"
        row.recipient.feishuUser = "ou_7d8a6e6d"
        return row
    }()

    @Test func everyFieldComesBack() throws {
        let records: [BatchRecord] = [
            .row(Self.full), .row(RecipientRow(row: 1)), .unreadable(row: 7, line: nil, reason: "第 8 行：引号未闭合"),
            .unreadable(row: -1, line: Int.max, reason: ""), .row(RecipientRow(row: Int.min, line: 0, channels: [])),
        ]
        let bytes = QueuedRecords.encode(records)
        #expect(try QueuedRecords.decode(bytes) == records)
        let json = try JSONEncoder.stored.encode(records)
        #expect(bytes.count * 2 < json.count, "\(bytes.count) bytes against \(json.count) of JSON")
    }

    /// A field added to a row must be added to the compact form: this counts them.
    @Test func theFormatKnowsEveryStoredPropertyOfARow() {
        #expect(Mirror(reflecting: Self.full).children.count == 8, "RecipientRow changed: update QueuedRecords")
        #expect(Mirror(reflecting: Self.full.recipient).children.count == 12, "Recipient changed: update QueuedRecords")
        #expect(Mirror(reflecting: Self.full.mail).children.count == 4, "MailExtras changed: update QueuedRecords")
    }

    /// Chunks queued by a Herald before `wecom_user` (version 1) are still read.
    @Test func versionOneRecordsAreStillRead() throws {
        var row = Self.full
        row.recipient.wecomUser = nil
        row.recipient.dingtalkUser = nil
        row.recipient.feishuUser = nil
        let current = QueuedRecords.encode([.row(row)])
        #expect(current.first == 2 && current.suffix(3) == [0, 0, 0], "version 2 ends with absent wecom_user, dingtalk_user and feishu_user")
        let versionOne = [1] + current.dropFirst().dropLast(3)
        #expect(try QueuedRecords.decode(versionOne) == [.row(row)])
    }

    @Test func damagedBytesAreAnErrorNotAWrongRow() {
        let bytes = QueuedRecords.encode([.row(Self.full)])
        for cut in [0, 1, 5, bytes.count / 2, bytes.count - 1] {
            #expect(throws: QueuedRecordsError.self) { try QueuedRecords.decode(bytes.prefix(cut)) }
        }
        #expect(throws: QueuedRecordsError.self) { try QueuedRecords.decode(bytes + [0]) }
        #expect(throws: QueuedRecordsError.self) { try QueuedRecords.decode([9] + bytes.dropFirst()) }
        #expect(throws: QueuedRecordsError.self) { try QueuedRecords.decode([1, 2] + Array(repeating: 0xFF, count: 12)) }
    }
}

/// Reading a batch ahead of the queue: chunks in order, a reading error in its place, and a
/// reader that stops when the caller gives up.
@Suite(.timeLimit(.minutes(1))) struct ChunkReadAheadTests {
    struct Broken: Error, Equatable {}

    @Test func chunksComeInOrderAndAnErrorAfterThem() throws {
        let counter = LockedCounter()
        let ahead = ChunkReadAhead<Int>(depth: 2) {
            let n = counter.increment()
            if n == 5 { throw Broken() }
            return n
        }
        #expect(try (1...4).map { _ in try ahead.next() } == [1, 2, 3, 4])
        #expect(throws: Broken.self) { try ahead.next() }
        #expect(try ahead.next() == nil, "nothing after the error")
    }

    @Test func theEndIsNilAndCancelStopsReading() throws {
        let ahead = ChunkReadAhead<Int>(depth: 3) { nil }
        #expect(try ahead.next() == nil)
        let counter = LockedCounter()
        let endless = ChunkReadAhead<Int>(depth: 3) { counter.increment() }
        #expect(try endless.next() == 1)
        endless.cancel()
        // What was read before the cancel still comes, then nil: the end, once the reader stopped.
        var left = 0
        while try endless.next() != nil { left += 1 }
        let read = counter.increment()
        #expect(counter.increment() == read + 1, "the reading thread stopped, at most \(read) reads")
        #expect(read <= 6 && left <= 4)
    }
}
