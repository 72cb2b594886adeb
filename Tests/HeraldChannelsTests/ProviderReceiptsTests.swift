import Foundation
import Testing
import HeraldChannels
import HeraldCore

/// The providers' documented receipt pushes, read by their parsers.
@Suite(.timeLimit(.minutes(1))) struct ProviderReceiptsTests {
    /// The push body shape of Aliyun's SmsReport (help.aliyun.com, "短信发送状态报告 SmsReport").
    static let aliyun = #"""
        [{"phone_number": "13800138000", "send_time": "2026-11-27 13:00:01", "report_time": "2026-11-27 13:00:05",
          "success": true, "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1", "biz_id": "932702304080415357^0", "out_id": "ID-A"},
         {"phone_number": "13900139000", "send_time": "2026-11-27 13:00:01", "report_time": "2026-11-27 13:00:09",
          "success": false, "err_code": "MK:0001", "err_msg": "用户关机", "sms_size": "1", "biz_id": "932702304080415357^1", "out_id": ""}]
        """#
    /// Tencent Cloud's SMS status callback (cloud.tencent.com/document/product/382/52077).
    static let tencent = #"""
        [{"user_receive_time": "2026-11-27 13:00:06", "nationcode": "86", "mobile": "13800138000", "report_status": "SUCCESS",
          "errmsg": "DELIVRD", "description": "用户短信送达成功", "sid": "2645:1041626021315920731714393601"}]
        """#

    @Test func bothProviderFormatsParse() throws {
        let aliyun = try AliyunReceipts().parse(Data(Self.aliyun.utf8), channel: "aliyun")
        #expect(aliyun == [
            DeliveryReceipt(channel: "aliyun", messageID: "ID-A", serial: "932702304080415357^0", mobile: "13800138000", delivered: true,
                            code: "DELIVERED", message: "用户接收成功", reportedAt: "2026-11-27 13:00:05"),
            DeliveryReceipt(channel: "aliyun", messageID: nil, serial: "932702304080415357^1", mobile: "13900139000", delivered: false,
                            code: "MK:0001", message: "用户关机", reportedAt: "2026-11-27 13:00:09"),
        ])
        let tencent = try TencentReceipts().parse(Data(Self.tencent.utf8), channel: "tencent")
        #expect(tencent == [DeliveryReceipt(channel: "tencent", messageID: nil, serial: "2645:1041626021315920731714393601",
                                            mobile: "+8613800138000", delivered: true, code: "DELIVRD", message: "用户短信送达成功",
                                            reportedAt: "2026-11-27 13:00:06")])
        #expect(throws: BatchRejection.self) { try AliyunReceipts().parse(Data("[{\"biz_id\": 1}]".utf8), channel: "aliyun") }
        #expect(AliyunReceipts().acknowledgement == #"{"code":0,"msg":"接收成功"}"#)
        #expect(TencentReceipts().acknowledgement == #"{"result":0,"errmsg":"OK"}"#)
        #expect(ProviderReceipts.parser(named: "tencent")?.name == "tencent" && ProviderReceipts.parser(named: "webhook") == nil)
    }
}
