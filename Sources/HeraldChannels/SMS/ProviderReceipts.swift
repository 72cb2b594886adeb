import Foundation
import HeraldCore

/// The providers' receipt parsers, by the transport of the SMS channels that use them; handed to
/// `ReceiptFiles` and `herald serve` by whoever wires a workspace.
public enum ProviderReceipts {
    /// Aliyun's and Tencent Cloud's parsers.
    public static let parsers: [TransportKind: any ReceiptParser] = [.aliyun: AliyunReceipts(), .tencent: TencentReceipts()]

    /// The parser named `name` (`aliyun`, `tencent`), for `herald receipts ingest --format`.
    public static func parser(named name: String) -> (any ReceiptParser)? {
        parsers.values.first { $0.name == name }
    }
}

/// Aliyun SmsReport pushes (`MNS` HTTP push of `SmsReport`).
public struct AliyunReceipts: ReceiptParser {
    /// The name in logs.
    public let name = "aliyun"
    /// Creates the parser.
    public init() {}
    /// The body the provider expects back.
    public var acknowledgement: String { ReceiptFormat.aliyun.acknowledgement }
    public func parse(_ data: Data, channel: String) throws -> [DeliveryReceipt] { try ReceiptFormat.aliyun.parse(data, channel: channel) }
}

/// Tencent Cloud SMS status callbacks.
public struct TencentReceipts: ReceiptParser {
    /// The name in logs.
    public let name = "tencent"
    /// Creates the parser.
    public init() {}
    /// The body the provider expects back.
    public var acknowledgement: String { ReceiptFormat.tencent.acknowledgement }
    public func parse(_ data: Data, channel: String) throws -> [DeliveryReceipt] { try ReceiptFormat.tencent.parse(data, channel: channel) }
}

/// The receipt pushes the SMS providers document, one parser each.
enum ReceiptFormat: String, Sendable, CaseIterable {
    /// Aliyun SmsReport: `[{"phone_number", "send_time", "report_time", "success", "err_code", "err_msg", "sms_size", "biz_id", "out_id"}]`.
    case aliyun
    /// Tencent Cloud status callback: `[{"user_receive_time", "nationcode", "mobile", "report_status", "errmsg", "description", "sid"}]`.
    case tencent

    /// The body the provider expects back when it pushes receipts (anything else makes it push again).
    var acknowledgement: String {
        switch self {
        case .aliyun: #"{"code":0,"msg":"接收成功"}"#
        case .tencent: #"{"result":0,"errmsg":"OK"}"#
        }
    }

    /// Reads a receipt file for SMS channel `channel`.
    func parse(_ data: Data, channel: String) throws -> [DeliveryReceipt] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw BatchRejection(reason: "not valid JSON: \(error.localizedDescription)")
        }
        let items = (object as? [Any]) ?? [object]
        return try items.enumerated().map { index, item in
            guard let fields = item as? [String: Any] else {
                throw BatchRejection(reason: "receipt \(index + 1) is not a JSON object")
            }
            func text(_ key: String) -> String? {
                if let string = fields[key] as? String { return string }
                return (fields[key] as? NSNumber)?.stringValue
            }
            switch self {
            case .aliyun:
                guard let success = fields["success"] as? Bool else {
                    throw BatchRejection(reason: "Aliyun receipt \(index + 1) has no boolean \"success\"")
                }
                return DeliveryReceipt(channel: channel, messageID: text("out_id").flatMap { $0.isEmpty ? nil : $0 },
                                       serial: text("biz_id"), mobile: text("phone_number") ?? "", delivered: success,
                                       code: text("err_code") ?? (success ? "DELIVERED" : "UNKNOWN"), message: text("err_msg") ?? "",
                                       reportedAt: text("report_time"))
            case .tencent:
                guard let status = text("report_status") else {
                    throw BatchRejection(reason: "Tencent receipt \(index + 1) has no \"report_status\"")
                }
                let nation = text("nationcode") ?? "86"
                return DeliveryReceipt(channel: channel, messageID: nil, serial: text("sid"),
                                       mobile: "+\(nation)\(text("mobile") ?? "")", delivered: status == "SUCCESS",
                                       code: text("errmsg") ?? status, message: text("description") ?? "",
                                       reportedAt: text("user_receive_time"))
            }
        }
    }
}

