import Foundation
import HeraldCore
import Histogram

/// Streams the log lines of a period and counts each message once, at its final status.
///
/// ```swift
/// let builder = try ReportBuilder(period: ReportPeriod(day: day), timeZone: zone)
/// try builder.read(logFolder: root.appendingPathComponent("outbox/log"))
/// let report = builder.finish()
/// ```
///
/// Per message it keeps 32 bytes and a dictionary slot keyed by a 64-bit number packed from the
/// message id (batch index, row, channel code), so a million messages fit in about 60 MB.
public final class ReportBuilder {
    /// The days read.
    public let period: ReportPeriod
    private let timeZone: TimeZone

    private var index: [UInt64: UInt32] = [:]
    private var states: [MessageState] = []
    private var batchIndex: [UInt64: UInt64] = [:]
    private var batchDigests: [UInt64] = []
    private var otherIDs: [String: UInt64] = [:]
    private var otherIDList: [String] = []

    private var groupIndex: [GroupKey: UInt32] = [:]
    private var groups: [GroupKey] = []
    private var lastGroupBytes: [UInt8] = []
    private var lastGroup: UInt32 = 0

    private var reasonIndex: [ReasonKey: Int32] = [:]
    private var reasons: [ReasonKey] = []

    private var linesRead = 0
    private var unreadable = 0
    private var unreadableExamples: [String] = []
    private var missingDays: [String] = []
    private var unfinishedFiles: [String] = []

    /// Creates a builder for `period` (at most 366 days).
    public init(period: ReportPeriod, timeZone: TimeZone) throws {
        guard period.days.count <= 366 else { throw ReportError("a report covers at most 366 days; \(period) has \(period.days.count)") }
        self.period = period
        self.timeZone = timeZone
    }

    /// Reads `logFolder/YYYY-MM-DD.jsonl` for every day of the period, in order.
    public func read(logFolder: URL) throws {
        try read(logFolders: [logFolder])
    }

    /// Reads the logs of several workers (each one's `outbox/log/`, gathered in one place) as
    /// one: a message's status is the one of its latest line by time, whichever log it is in, so
    /// the order of the folders does not matter. A day is missing only when no folder has it.
    public func read(logFolders: [URL]) throws {
        for day in period.days {
            let name = Timestamp.day(number: day)
            var found = false
            for (number, folder) in logFolders.enumerated() {
                let url = folder.appendingPathComponent("\(name).jsonl")
                guard FileManager.default.fileExists(atPath: url.path) else { continue }
                found = true
                let shown = logFolders.count == 1 ? "\(name).jsonl" : "\(number + 1):\(name).jsonl"
                // A last line without its newline is still being written (or was cut off by a crash,
                // and the next append will finish it as a bad line): left out, and named.
                let consumed = try LogFiles.forEachLine(at: url) { line, lineNumber in
                    add(line: line, file: shown, lineNumber: lineNumber)
                }
                if LogFiles.size(of: url) > consumed { unfinishedFiles.append(shown) }
            }
            if !found { missingDays.append(name) }
        }
    }

    /// Counts one log line; an unreadable one is remembered as `file:line: reason`.
    func add(line: UnsafeBufferPointer<UInt8>, file: String, lineNumber: Int) {
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { return }
        linesRead += 1
        let scanned: ScannedLine
        do {
            scanned = try LogLineScanner.scan(line)
        } catch {
            unreadable += 1
            if unreadableExamples.count < 20 { unreadableExamples.append("\(file):\(lineNumber): \(error.reason)") }
            return
        }
        if scanned.isBatchNote { return }
        let cursor = Cursor(bytes: line)
        let key = messageKey(cursor, scanned.messageID)

        let isReceipt = cursor.equals(scanned.file, "receipts")
        let status = scanned.status ?? .invalid
        let slot: Int
        if let existing = index[key] {
            slot = Int(existing)
        } else {
            slot = states.count
            index[key] = UInt32(slot)
            let hour = min(max(0, (scanned.localDay - period.first) * 24 + scanned.localHour), period.days.count * 24 - 1)
            states.append(MessageState(group: group(cursor, scanned), hour: UInt32(hour)))
        }
        states[slot].update(with: scanned, status: status, isReceipt: isReceipt,
                            reason: scanned.errorCode == nil && scanned.errorMessage == nil ? -1 : reason(cursor, scanned))
    }

    /// Turns the counted messages into figures; `templateNames` gives the tables their names.
    public func finish(templateNames: [String: String] = [:], generatedAt: Date = Date()) -> Report {
        var groupCounts = [StatusCounts](repeating: StatusCounts(), count: groups.count)
        var lateCounts = [StatusCounts](repeating: StatusCounts(), count: groups.count)
        var groupLatency = [Histogram<UInt32>?](repeating: nil, count: groups.count)
        var hours = [StatusCounts](repeating: StatusCounts(), count: period.days.count * 24)
        var failureCounts: [FailureKey: (count: Int, example: UInt64)] = [:]

        for (key, slot) in index {
            let state = states[Int(slot)]
            let group = Int(state.group)
            let status = DeliveryStatus(code: state.status)
            if !state.sendSeen {
                lateCounts[group].count(status, channel: groups[group].channel)
                continue
            }
            groupCounts[group].count(status, channel: groups[group].channel)
            groupCounts[group].attempts += Int(state.attempts)
            if state.attempts > 1 { groupCounts[group].retried += 1 }
            hours[Int(state.hour)].count(status, channel: groups[group].channel)
            if state.firstAttemptSeen, status.isHandedOver && status != .deferred || status == .failed {
                if groupLatency[group] == nil { groupLatency[group] = Self.emptyHistogram() }
                _ = groupLatency[group]?.record(UInt64(max(1, state.latencyMicroseconds)))
            }
            if state.reason >= 0, [.failed, .invalid, .undelivered, .deferred, .suppressed].contains(status) {
                let failure = FailureKey(status: status.code, channel: groups[group].channel, reason: state.reason)
                if let existing = failureCounts[failure] {
                    failureCounts[failure] = (existing.count + 1, min(existing.example, key))
                } else {
                    failureCounts[failure] = (1, key)
                }
            }
        }

        func rollUp(_ keyOf: (GroupKey) -> String) -> [String: (StatusCounts, Histogram<UInt32>?)] {
            var rows: [String: (StatusCounts, Histogram<UInt32>?)] = [:]
            for (number, group) in groups.enumerated() where groupCounts[number].total > 0 {
                let key = keyOf(group)
                var row = rows[key] ?? (StatusCounts(), nil)
                row.0.add(groupCounts[number])
                if let histogram = groupLatency[number] {
                    if row.1 == nil { row.1 = histogram } else { row.1?.add(histogram) }
                }
                rows[key] = row
            }
            return rows
        }
        func figures(_ rows: [String: (StatusCounts, Histogram<UInt32>?)], name: (String) -> String? = { _ in nil }) -> [GroupFigures] {
            rows.map { GroupFigures(key: $0.key, name: name($0.key), counts: $0.value.0, latency: $0.value.1.map(Self.latency)) }
        }

        let channels = figures(rollUp { $0.channel }).sorted { Self.channelRank($0.key) < Self.channelRank($1.key) }
        let templates = figures(rollUp { $0.template }, name: { templateNames[$0] })
            .sorted { ($0.counts.total, $1.key) > ($1.counts.total, $0.key) }
        let accounts = figures(rollUp { $0.channel + "/" + $0.account })
            .sorted { (Self.channelRank(String($0.key.prefix { $0 != "/" })), $0.key) < (Self.channelRank(String($1.key.prefix { $0 != "/" })), $1.key) }
        let overallRows = rollUp { _ in "all" }
        let overall = figures(overallRows).first ?? GroupFigures(key: "all")

        var late: [String: StatusCounts] = [:]
        for (number, group) in groups.enumerated() where lateCounts[number].total > 0 {
            late[group.channel, default: StatusCounts()].add(lateCounts[number])
        }

        let failures = failureCounts.map { key, value -> FailureReason in
            let reason = reasons[Int(key.reason)]
            return FailureReason(status: DeliveryStatus(code: key.status),
                                 channel: key.channel, code: reason.code, message: reason.message,
                                 count: value.count, exampleMessageID: messageID(value.example))
        }.sorted { ($0.count, $1.code, $1.message) > ($1.count, $0.code, $0.message) }

        let buckets = Self.buckets(overallRows["all"]?.1 ?? Self.emptyHistogram())

        return Report(period: period, timeZone: timeZone, generatedAt: generatedAt, overall: overall,
                      channels: channels, templates: templates, accounts: accounts,
                      hours: hours.enumerated().map { HourFigures(day: period.first + $0.offset / 24, hour: $0.offset % 24, counts: $0.element) },
                      failures: failures, latencyBuckets: buckets,
                      lateReceipts: late.map { GroupFigures(key: $0.key, counts: $0.value) }.sorted { Self.channelRank($0.key) < Self.channelRank($1.key) },
                      linesRead: linesRead, unreadableLines: unreadable, unreadableExamples: unreadableExamples,
                      missingDays: missingDays, unfinishedFiles: unfinishedFiles, previous: nil)
    }

    // MARK: - Keys

    /// Packs `message_id` (16 hex batch digest, 12 hex row, 4 hex channel code) into 64 bits:
    /// 16 bits of batch index, 32 of row, 16 of channel code. Ids of another shape get a
    /// number of their own.
    private func messageKey(_ cursor: Cursor, _ range: Range<Int>) -> UInt64 {
        if range.count == 32,
           let digest = Self.hex(cursor.bytes, range.lowerBound, 16),
           let row = Self.hex(cursor.bytes, range.lowerBound + 16, 12), row < 1 << 32,
           let code = Self.hex(cursor.bytes, range.lowerBound + 28, 4) {
            let batch: UInt64
            if let known = batchIndex[digest] {
                batch = known
            } else if batchDigests.count < 0xFFFF {
                batch = UInt64(batchDigests.count)
                batchIndex[digest] = batch
                batchDigests.append(digest)
            } else {
                return otherKey(cursor.text(range))
            }
            return batch << 48 | row << 16 | code
        }
        return otherKey(cursor.text(range))
    }

    private func otherKey(_ id: String) -> UInt64 {
        if let key = otherIDs[id] { return key }
        let key = 0xFFFF << 48 | UInt64(otherIDList.count)
        otherIDs[id] = key
        otherIDList.append(id)
        return key
    }

    private func messageID(_ key: UInt64) -> String {
        let batch = Int(key >> 48)
        if batch == 0xFFFF { return otherIDList[Int(key & 0xFFFF_FFFF_FFFF)] }
        func hex(_ value: UInt64, _ width: Int) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: width - digits.count) + digits
        }
        return hex(batchDigests[batch], 16) + hex(key >> 16 & 0xFFFF_FFFF, 12) + hex(key & 0xFFFF, 4)
    }

    private static func hex(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ width: Int) -> UInt64? {
        var value: UInt64 = 0
        for index in start..<start + width {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case 48...57: digit = byte - 48
            case 97...102: digit = byte - 87
            case 65...70: digit = byte - 55
            default: return nil
            }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    /// The (channel, template, account) of a line, interned; consecutive lines usually share it.
    private func group(_ cursor: Cursor, _ scanned: ScannedLine) -> UInt32 {
        let ranges = [scanned.channel, scanned.template, scanned.account]
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ranges.reduce(0) { $0 + $1.count } + 2)
        for (number, range) in ranges.enumerated() {
            if number > 0 { bytes.append(0) }
            bytes.append(contentsOf: cursor.bytes[range])
        }
        if bytes == lastGroupBytes, !groups.isEmpty { return lastGroup }
        let channel = cursor.decoded(scanned.channel)
        let key = GroupKey(channel: channel.isEmpty ? "none" : channel,
                           template: scanned.template.isEmpty ? "none" : cursor.decoded(scanned.template),
                           account: scanned.account.isEmpty ? "none" : cursor.decoded(scanned.account))
        let number: UInt32
        if let known = groupIndex[key] {
            number = known
        } else {
            number = UInt32(groups.count)
            groupIndex[key] = number
            groups.append(key)
        }
        lastGroupBytes = bytes
        lastGroup = number
        return number
    }

    private func reason(_ cursor: Cursor, _ scanned: ScannedLine) -> Int32 {
        let code = scanned.errorCode.map(cursor.decoded) ?? ""
        let message = scanned.errorMessage.map(cursor.decoded) ?? ""
        let key = ReasonKey(code: code, message: Self.pattern(of: message))
        if let known = reasonIndex[key] { return known }
        let number = Int32(reasons.count)
        reasonIndex[key] = number
        reasons.append(key)
        return number
    }

    /// The message with the parts that name one recipient or one moment replaced by `…`, so that
    /// the same error for different recipients groups together: quoted and bracketed values, and
    /// words holding an `@` or six characters or more with a digit in them
    /// (`email '…' is not a valid address`, `cap 1/min reached for …; deferred to …`).
    static func pattern(of message: String) -> String {
        var unquoted = ""
        var closing: Character?
        for character in message {
            if let close = closing {
                if character == close {
                    unquoted.append("…")
                    unquoted.append(character)
                    closing = nil
                }
                continue
            }
            unquoted.append(character)
            switch character {
            case "'": closing = "'"
            case "\"": closing = "\""
            case "<": closing = ">"
            case "‘": closing = "’"
            case "“": closing = "”"
            default: break
            }
        }
        return unquoted.split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
            let core = word.trimmingCharacters(in: CharacterSet(charactersIn: ";,.:)"))
            guard core != "…", core.count > 1 && core.contains("@") || (core.count >= 6 && core.contains(where: \.isNumber)) else { return String(word) }
            return word.replacingOccurrences(of: core, with: "…")
        }.joined(separator: " ")
    }

    // MARK: - Latency

    private static func emptyHistogram() -> Histogram<UInt32> {
        var histogram = Histogram<UInt32>(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000,
                                          numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }

    private static func latency(_ histogram: Histogram<UInt32>) -> LatencyFigures {
        LatencyFigures(count: Int(histogram.totalCount),
                       p50: Double(histogram.valueAtPercentile(50)) / 1e6,
                       p90: Double(histogram.valueAtPercentile(90)) / 1e6,
                       p99: Double(histogram.valueAtPercentile(99)) / 1e6,
                       max: Double(histogram.max) / 1e6)
    }

    /// Bars of the latency distribution chart.
    private static func buckets(_ histogram: Histogram<UInt32>) -> [LatencyBucket] {
        let limits: [(String, UInt64)] = [
            ("≤10ms", 10_000), ("≤50ms", 50_000), ("≤100ms", 100_000), ("≤250ms", 250_000), ("≤500ms", 500_000),
            ("≤1s", 1_000_000), ("≤2s", 2_000_000), ("≤5s", 5_000_000), ("≤10s", 10_000_000), ("≤1min", 60_000_000),
            ("≤10min", 600_000_000), ("≤1h", 3_600_000_000),
        ]
        var counts = [Int](repeating: 0, count: limits.count + 1)
        if histogram.totalCount > 0 {
            for recorded in histogram.recordedValues() {
                let value = histogram.medianEquivalentForValue(recorded.value)
                let slot = limits.firstIndex { value <= $0.1 } ?? limits.count
                counts[slot] += Int(recorded.count)
            }
        }
        var buckets = zip(limits, counts).map { LatencyBucket(label: $0.0, upperSeconds: Double($0.1) / 1e6, count: $1) }
        buckets.append(LatencyBucket(label: ">1h", upperSeconds: nil, count: counts[limits.count]))
        return buckets
    }

    static func channelRank(_ key: String) -> Int {
        Channel(rawValue: key).flatMap { Channel.allCases.firstIndex(of: $0) } ?? Channel.allCases.count
    }
}

/// What the builder keeps per message (32 bytes).
struct MessageState {
    var startMilliseconds: Int64 = 0
    /// The time of the line that set `status` (lines of several workers' logs arrive out of order).
    var statusMilliseconds: Int64 = .min
    var latencyMicroseconds: Int64 = 0
    var group: UInt32
    var reason: Int32 = -1
    var hour: UInt32
    var attempts: UInt16 = 0
    var status: UInt8 = 0
    var flags: UInt8 = 0

    init(group: UInt32, hour: UInt32) {
        self.group = group
        self.hour = hour
    }

    var sendSeen: Bool { flags & 1 != 0 }
    var firstAttemptSeen: Bool { flags & 2 != 0 }
    private var hasReceipt: Bool { flags & 4 != 0 }

    mutating func update(with line: ScannedLine, status: DeliveryStatus, isReceipt: Bool, reason: Int32) {
        if isReceipt {
            flags |= 4
            self.status = status.code
            self.reason = reason
            return
        }
        flags |= 1
        // A receipt already says how the message ended; a later copy of its send line does not undo
        // that. Of two lines, the later one by time decides (several workers' logs are read one
        // after another).
        if !(hasReceipt && status == .sent), line.epochMilliseconds >= statusMilliseconds {
            self.status = status.code
            self.reason = reason
            statusMilliseconds = line.epochMilliseconds
        }
        guard status == .sent || status == .failed || status == .deferred else { return }
        attempts &+= 1
        let latency = line.latencyMicroseconds ?? 0
        if line.attempt == 1, !firstAttemptSeen {
            flags |= 2
            startMilliseconds = line.epochMilliseconds - latency / 1000
            latencyMicroseconds = latency
        } else if firstAttemptSeen {
            latencyMicroseconds = max(latency, (line.epochMilliseconds - startMilliseconds) * 1000)
        }
    }
}

struct GroupKey: Hashable {
    var channel: String
    var template: String
    var account: String
}

struct ReasonKey: Hashable {
    var code: String
    var message: String
}

struct FailureKey: Hashable {
    var status: UInt8
    var channel: String
    var reason: Int32
}

extension DeliveryStatus {
    /// A one-byte code for compact per-message state.
    var code: UInt8 { UInt8(DeliveryStatus.allCases.firstIndex(of: self) ?? 0) }

    /// The status of a `code`.
    init(code: UInt8) {
        let all = DeliveryStatus.allCases
        self = Int(code) < all.count ? all[Int(code)] : .invalid
    }
}
