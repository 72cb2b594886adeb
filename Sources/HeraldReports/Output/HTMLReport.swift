import Foundation
import HeraldCore

/// The report as one self-contained HTML page: inline CSS and SVG charts, no scripts, fonts or
/// links to fetch; laid out for a phone first, Chinese labels.
public enum HTMLReport {
    /// The page.
    public static func render(_ report: Report) -> String {
        var page = Page()
        page.head(title: "Herald 发送报告 · \(report.period)")
        page.raw("<header><h1>Herald 发送报告</h1>")
        page.raw("<p class=\"meta\">\(escape(report.period.description)) · 时区 \(escape(report.timeZone.identifier)) · 生成于 \(escape(Timestamp.iso8601(report.generatedAt, timeZone: report.timeZone).prefix(19).replacingOccurrences(of: "T", with: " ")))")
        if let previous = report.previous { page.raw(" · 对比 \(escape(previous.period.replacingOccurrences(of: "_", with: " – ")))") }
        page.raw("</p></header>")
        cards(report, into: &page)
        if report.overall.counts.total == 0 {
            page.raw("<section><p class=\"empty\">本期没有消息记录。</p></section>")
        } else {
            volumeChart(report, into: &page)
            successChart(report, into: &page)
            latencyChart(report, into: &page)
            groupTable("按渠道", report.channels, label: channelName, previous: report.previous, into: &page)
            groupTable("按模板", report.templates, label: { $0 }, previous: nil, into: &page, names: true)
            groupTable("按供应商 / 账号", report.accounts, label: accountName, previous: nil, into: &page)
            failureTable(report, into: &page)
        }
        notes(report, into: &page)
        page.raw("<footer class=\"meta\">Herald \(escape(HeraldVersion.current))</footer>")
        page.raw("</main></body></html>\n")
        return page.text
    }

    // MARK: - Sections

    private static func cards(_ report: Report, into page: inout Page) {
        let counts = report.overall.counts
        let previous = report.previous?.overall
        page.raw("<section class=\"cards\">")
        func card(_ title: String, _ value: String, _ change: String? = nil, warn: Bool = false) {
            page.raw("<div class=\"card\(warn ? " warn" : "")\"><div class=\"label\">\(escape(title))</div><div class=\"value\">\(escape(value))</div>")
            if let change { page.raw("<div class=\"change\">\(escape(change))</div>") }
            page.raw("</div>")
        }
        card("消息总数", grouped(counts.total), previous.map { countChange(counts.total, $0.counts.total) })
        card("成功率", percent(counts.successRate), previous.flatMap { pointChange(counts.successRate, $0.counts.successRate) },
             warn: (counts.successRate ?? 1) < 0.95)
        card("送达率", percent(counts.deliveryRate), previous.flatMap { pointChange(counts.deliveryRate, $0.counts.deliveryRate) })
        if let rate = report.mailDeliveryRate {
            let mail = report.mailCounts
            card("邮件送达率", percent(rate), "退信 \(grouped(mail?.bounced ?? 0)) 封", warn: rate < 0.98)
        }
        card("延迟 p99", duration(report.overall.latency?.p99),
             previous.flatMap { old in old.latency.flatMap { o in report.overall.latency.map { "较前期 \(duration(o.p99)) → \(duration($0.p99))" } } })
        card("失败 / 无效", "\(grouped(counts.failed)) / \(grouped(counts.invalid))", warn: counts.failed + counts.invalid > 0)
        card("待重试", grouped(counts.deferred), "尝试 \(grouped(counts.attempts)) 次，重试消息 \(grouped(counts.retried))")
        page.raw("</section>")
    }

    /// Stacked bars per hour (per day for periods longer than three days).
    private static func volumeChart(_ report: Report, into page: inout Page) {
        var bars: [(label: String, counts: StatusCounts)] = []
        let daily = report.period.days.count > 3
        if daily {
            for day in report.period.days {
                var counts = StatusCounts()
                for hour in report.hours where hour.day == day { counts.add(hour.counts) }
                bars.append((String(Timestamp.day(number: day).suffix(5)), counts))
            }
        } else {
            bars = report.hours.map { (report.period.days.count > 1 ? "\($0.hour)" : "\($0.hour)", $0.counts) }
        }
        let width = 640.0, height = 300.0, left = 56.0, bottom = 40.0, top = 12.0
        let plotWidth = width - left - 8, plotHeight = height - bottom - top
        let highest = niceCeiling(bars.map(\.counts.total).max() ?? 0)
        page.raw("<section><h2>\(daily ? "每日发送量" : "每小时发送量")</h2>")
        page.raw("<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(daily ? "每日" : "每小时")发送量，按状态堆叠\">")
        for step in 0...4 {
            let value = highest * step / 4
            let y = top + plotHeight - plotHeight * Double(step) / 4
            page.raw("<line x1=\"\(left)\" x2=\"\(width - 8)\" y1=\"\(y)\" y2=\"\(y)\" class=\"grid\"/>")
            page.raw("<text x=\"\(left - 6)\" y=\"\(y + 6)\" class=\"axis\" text-anchor=\"end\">\(compact(value))</text>")
        }
        let slot = plotWidth / Double(max(1, bars.count))
        let labelEvery = max(1, Int((Double(bars.count) / 8).rounded(.up)))
        for (number, bar) in bars.enumerated() {
            let x = left + slot * Double(number)
            var y = top + plotHeight
            for segment in stack(bar.counts) where segment.count > 0 {
                let h = plotHeight * Double(segment.count) / Double(max(1, highest))
                y -= h
                page.raw("<rect x=\"\(fixed(x + slot * 0.1))\" y=\"\(fixed(y))\" width=\"\(fixed(slot * 0.8))\" height=\"\(fixed(h))\" fill=\"\(segment.color)\"><title>\(escape(bar.label)) \(segment.name) \(segment.count)</title></rect>")
            }
            if number % labelEvery == 0 {
                page.raw("<text x=\"\(fixed(x + slot / 2))\" y=\"\(height - bottom + 24)\" class=\"axis\" text-anchor=\"middle\">\(escape(bar.label))</text>")
            }
        }
        page.raw("</svg>")
        page.raw("<p class=\"legend\">")
        for segment in stack(report.overall.counts) where segment.count > 0 {
            page.raw("<span><i style=\"background:\(segment.color)\"></i>\(segment.name)</span>")
        }
        page.raw("</p></section>")
    }

    private static func successChart(_ report: Report, into page: inout Page) {
        let rows = report.channels.filter { $0.counts.successRate != nil }
        guard !rows.isEmpty else { return }
        page.raw("<section><h2>各渠道成功率</h2>")
        horizontalBars(rows.map { row in
            (channelName(row.key), row.counts.successRate ?? 0, percent(row.counts.successRate),
             (row.counts.successRate ?? 1) < 0.95 ? "#e53935" : "#43a047")
        }, into: &page, label: "各渠道成功率")
        page.raw("</section>")
    }

    private static func latencyChart(_ report: Report, into page: inout Page) {
        guard let latency = report.overall.latency, latency.count > 0 else { return }
        let buckets = report.latencyBuckets.filter { $0.count > 0 }
        let most = Double(buckets.map(\.count).max() ?? 1)
        page.raw("<section><h2>发送延迟分布</h2>")
        page.raw("<p class=\"sub\">从第一次尝试开始到最终结果：p50 \(duration(latency.p50)) · p90 \(duration(latency.p90)) · p99 \(duration(latency.p99)) · 最大 \(duration(latency.max))（\(grouped(latency.count)) 条）</p>")
        horizontalBars(buckets.map { ($0.label, Double($0.count) / most, grouped($0.count), "#1e88e5") },
                       into: &page, label: "延迟分布")
        page.raw("</section>")
    }

    private static func horizontalBars(_ rows: [(label: String, fraction: Double, value: String, color: String)],
                                       into page: inout Page, label: String) {
        let rowHeight = 36.0, width = 640.0, left = 150.0, right = 110.0
        let height = rowHeight * Double(rows.count) + 8
        page.raw("<svg viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(label))\">")
        for (number, row) in rows.enumerated() {
            let y = 4 + rowHeight * Double(number)
            let barWidth = max(1, (width - left - right) * min(1, max(0, row.fraction)))
            page.raw("<text x=\"\(left - 10)\" y=\"\(y + 24)\" class=\"label\" text-anchor=\"end\">\(escape(row.label))</text>")
            page.raw("<rect x=\"\(left)\" y=\"\(y + 6)\" width=\"\(fixed(width - left - right))\" height=\"24\" class=\"track\"/>")
            page.raw("<rect x=\"\(left)\" y=\"\(y + 6)\" width=\"\(fixed(barWidth))\" height=\"24\" fill=\"\(row.color)\"/>")
            page.raw("<text x=\"\(width - right + 10)\" y=\"\(y + 24)\" class=\"label\">\(escape(row.value))</text>")
        }
        page.raw("</svg>")
    }

    private static func groupTable(_ title: String, _ rows: [GroupFigures], label: (String) -> String,
                                   previous: ReportSummary?, into page: inout Page, names: Bool = false) {
        guard !rows.isEmpty else { return }
        page.raw("<section><h2>\(escape(title))</h2><div class=\"scroll\"><table><thead><tr>")
        var headers = ["名称", "总数", "已发送", "已送达", "未送达", "失败", "无效", "已拦截", "跳过", "待重试", "尝试", "成功率"]
        if previous != nil { headers.append("较前期") }
        headers += ["送达率", "p50", "p90", "p99", "最大"]
        for header in headers { page.raw("<th>\(escape(header))</th>") }
        page.raw("</tr></thead><tbody>")
        for row in rows {
            let c = row.counts
            var name = escape(label(row.key))
            if names, let title = row.name { name += "<br><small>\(escape(title))</small>" }
            page.raw("<tr><th scope=\"row\">\(name)</th>")
            for value in [c.total, c.sent, c.delivered, c.undelivered, c.failed, c.invalid, c.suppressed, c.skipped, c.deferred, c.attempts] {
                page.raw("<td>\(grouped(value))</td>")
            }
            page.raw("<td class=\"\((c.successRate ?? 1) < 0.95 ? "bad" : "")\">\(percent(c.successRate))</td>")
            if let previous {
                page.raw("<td>\(escape(previous.channel(row.key).flatMap { pointChange(c.successRate, $0.counts.successRate) } ?? "—"))</td>")
            }
            page.raw("<td>\(percent(c.deliveryRate))</td>")
            for value in [row.latency?.p50, row.latency?.p90, row.latency?.p99, row.latency?.max] {
                page.raw("<td>\(duration(value))</td>")
            }
            page.raw("</tr>")
        }
        page.raw("</tbody></table></div></section>")
    }

    private static func failureTable(_ report: Report, into page: inout Page) {
        let top = report.failures.filter { $0.status != .suppressed }.prefix(10)
        guard !top.isEmpty else { return }
        page.raw("<section><h2>主要失败原因</h2><div class=\"scroll\"><table class=\"reasons\"><thead><tr>")
        for header in ["状态", "渠道", "错误码", "原因", "消息数", "示例消息 ID"] { page.raw("<th>\(header)</th>") }
        page.raw("</tr></thead><tbody>")
        for failure in top {
            page.raw("<tr><td>\(statusName(failure.status))</td><td>\(escape(channelName(failure.channel)))</td><td><code>\(escape(failure.code))</code></td>")
            page.raw("<td class=\"text\">\(escape(failure.message))</td><td>\(grouped(failure.count))</td><td><code>\(escape(failure.exampleMessageID))</code></td></tr>")
        }
        page.raw("</tbody></table></div></section>")
    }

    private static func notes(_ report: Report, into page: inout Page) {
        var notes: [String] = []
        if !report.missingDays.isEmpty { notes.append("没有日志文件的日期：\(report.missingDays.joined(separator: "、"))") }
        for file in report.unfinishedFiles { notes.append("\(file) 的最后一行尚未写完（正在写入），未计入。") }
        if report.unreadableLines > 0 {
            notes.append("\(report.unreadableLines) 行日志无法读取，未计入：" + report.unreadableExamples.prefix(5).joined(separator: "；"))
        }
        for late in report.lateReceipts {
            notes.append("\(channelName(late.key))：收到 \(late.counts.delivered + late.counts.undelivered) 条本期之前发送的消息的回执（送达 \(late.counts.delivered)，未送达 \(late.counts.undelivered)），不计入上表。")
        }
        notes.append("每条消息按其在本期最后的状态计一次；成功率 = 已发送 ÷（已发送 + 失败）；送达率 = 已送达 ÷（已送达 + 未送达），仅统计有回执的消息；延迟从第一次尝试开始计算到最终结果。共读取 \(grouped(report.linesRead)) 行日志。")
        page.raw("<section class=\"notes\"><h2>说明</h2><ul>")
        for note in notes { page.raw("<li>\(escape(note))</li>") }
        page.raw("</ul></section>")
    }

    // MARK: - Labels and numbers

    static func channelName(_ key: String) -> String {
        switch key {
        case Channel.site.rawValue: "站内信"
        case Channel.mail.rawValue: "邮件"
        case Channel.sms.rawValue: "短信"
        case Channel.wechatMP.rawValue: "公众号模板消息"
        case Channel.wechatMini.rawValue: "小程序订阅消息"
        case Channel.wecom.rawValue: "企业微信"
        case Channel.dingtalk.rawValue: "钉钉"
        case Channel.feishu.rawValue: "飞书"
        case "none": "未到渠道"
        default: key
        }
    }

    static func accountName(_ key: String) -> String {
        guard let slash = key.firstIndex(of: "/") else { return key }
        return channelName(String(key[..<slash])) + " / " + key[key.index(after: slash)...]
    }

    static func statusName(_ status: DeliveryStatus) -> String {
        switch status {
        case .sent: "已发送"
        case .delivered: "已送达"
        case .undelivered: "未送达"
        case .deferred: "待重试"
        case .failed: "失败"
        case .invalid: "无效"
        case .skipped, .duplicate: "跳过"
        case .suppressed: "已拦截"
        case .scheduled: "已排期"
        case .cancelled: "已取消"
        case .digested: "已合并"
        }
    }

    private static func stack(_ counts: StatusCounts) -> [(name: String, color: String, count: Int)] {
        [("已送达", "#1b5e20", counts.delivered), ("已发送", "#43a047", counts.sent - counts.delivered - counts.undelivered),
         ("未送达", "#f9a825", counts.undelivered), ("待重试", "#fb8c00", counts.deferred), ("失败", "#e53935", counts.failed),
         ("无效", "#8e24aa", counts.invalid), ("已拦截", "#757575", counts.suppressed), ("跳过", "#bdbdbd", counts.skipped)]
    }

    static func percent(_ rate: Double?) -> String {
        guard let rate else { return "—" }
        return String(format: "%.2f%%", rate * 100)
    }

    /// `▲ 0.30 个百分点` between two rates.
    static func pointChange(_ now: Double?, _ before: Double?) -> String? {
        guard let now, let before else { return nil }
        let points = (now - before) * 100
        if abs(points) < 0.005 { return "较前期持平" }
        return String(format: "较前期 %@ %.2f 个百分点", points > 0 ? "▲" : "▼", abs(points))
    }

    static func countChange(_ now: Int, _ before: Int) -> String {
        guard before > 0 else { return "前期为 0" }
        let change = Double(now - before) / Double(before) * 100
        if abs(change) < 0.05 { return "较前期持平" }
        return String(format: "较前期 %@ %.1f%%", change > 0 ? "▲" : "▼", abs(change))
    }

    /// `0.8 ms`, `245 ms`, `1.25 s`, `3.2 min`, `1.5 h`.
    static func duration(_ seconds: Double?) -> String {
        guard let seconds else { return "—" }
        switch seconds {
        case ..<0.00001: return "<0.01 ms"
        case ..<0.01: return String(format: "%.2f ms", seconds * 1000)
        case ..<1: return String(format: "%.0f ms", seconds * 1000)
        case ..<60: return String(format: "%.2f s", seconds)
        case ..<3600: return String(format: "%.1f min", seconds / 60)
        default: return String(format: "%.1f h", seconds / 3600)
        }
    }

    static func grouped(_ value: Int) -> String {
        let digits = String(value)
        var result = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0, (digits.count - offset) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return result
    }

    private static func compact(_ value: Int) -> String {
        value >= 10_000 ? String(format: "%.0f万", Double(value) / 10_000) : grouped(value)
    }

    private static func niceCeiling(_ value: Int) -> Int {
        guard value > 4 else { return 4 }
        var magnitude = 1
        while magnitude * 10 < value { magnitude *= 10 }
        for step in [1, 2, 4, 5, 8, 10] where step * magnitude >= value { return step * magnitude }
        return value
    }

    private static func fixed(_ value: Double) -> String { String(format: "%.1f", value) }

    /// Text for the page: the templates' own HTML escaping.
    static func escape<S: StringProtocol>(_ text: S) -> String {
        Escaping.html.apply(String(text))
    }
}

/// The page under construction.
private struct Page {
    var text = ""

    mutating func raw(_ html: String) { text += html }

    mutating func head(title: String) {
        text += """
            <!DOCTYPE html>
            <html lang="zh-CN"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(HTMLReport.escape(title))</title>
            <style>
            :root{color-scheme:light}
            body{margin:0;background:#f5f6f8;color:#1f2328;font:15px/1.5 -apple-system,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei","WenQuanYi Zen Hei",sans-serif}
            main{max-width:1000px;margin:0 auto;padding:12px}
            header h1{font-size:22px;margin:8px 0 0}
            .meta,.sub{color:#57606a;font-size:13px;margin:4px 0 12px}
            section{background:#fff;border-radius:10px;padding:12px 14px;margin:0 0 12px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
            h2{font-size:17px;margin:0 0 8px}
            .cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(140px,1fr));gap:10px;background:none;box-shadow:none;padding:0}
            .card{background:#fff;border-radius:10px;padding:10px 12px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
            .card .label{color:#57606a;font-size:13px}.card .value{font-size:24px;font-weight:600}
            .card .change{color:#57606a;font-size:12px}.card.warn .value{color:#c62828}
            svg{width:100%;max-width:720px;height:auto;display:block}
            svg text{font-size:18px;fill:#57606a}svg .label{font-size:20px;fill:#1f2328}
            .grid{stroke:#e1e4e8;stroke-width:1}.track{fill:#eef0f3}
            .legend{font-size:13px;color:#57606a;margin:6px 0 0}.legend span{margin-right:12px;white-space:nowrap}
            .legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px}
            .scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
            table{border-collapse:collapse;font-size:13px;white-space:nowrap;min-width:100%}
            th,td{padding:6px 8px;border-bottom:1px solid #eaecef;text-align:right}
            thead th{background:#f6f8fa;position:sticky;top:0}
            tbody th,thead th:first-child{text-align:left;font-weight:500}tbody th small{color:#57606a}
            td.text{text-align:left;white-space:normal;min-width:220px}td.bad{color:#c62828;font-weight:600}
            .reasons td:nth-child(-n+3){text-align:left}
            code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
            .notes ul{margin:0;padding-left:20px;font-size:13px;color:#57606a}
            .empty{color:#57606a}
            </style></head><body><main>
            """
    }
}
