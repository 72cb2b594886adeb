import Foundation
import Testing
import HeraldChannels

/// The providers' own published signature examples, reproduced byte for byte.
@Suite(.timeLimit(.minutes(1))) struct ProviderSignatureTests {
    /// help.aliyun.com, "V3版本请求体&签名机制", the worked example (ECS RunInstances).
    @Test func aliyunACS3MatchesTheDocumentedExample() {
        let signed = AliyunSignatureV3.sign(
            method: "POST", path: "/",
            query: ["ImageId": "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd", "RegionId": "cn-shanghai"],
            host: "ecs.cn-shanghai.aliyuncs.com", action: "RunInstances", version: "2014-05-26", body: Data(),
            date: "2023-10-26T10:22:32Z", nonce: "3156853299f313e23d1673dc12e1703d",
            accessKeyID: "YourAccessKeyId", accessKeySecret: "YourAccessKeySecret")
        #expect(signed.canonicalRequest == """
            POST
            /
            ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai
            host:ecs.cn-shanghai.aliyuncs.com
            x-acs-action:RunInstances
            x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-acs-date:2023-10-26T10:22:32Z
            x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d
            x-acs-version:2014-05-26

            host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(signed.hashedCanonicalRequest == "7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259")
        #expect(signed.signature == "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0")
        #expect(signed.headers["Authorization"] == "ACS3-HMAC-SHA256 Credential=YourAccessKeyId,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0")
    }

    @Test func aliyunPercentEncodingIsRFC3986() {
        #expect(AliyunSignatureV3.percentEncode("{\"code\":\"1234\"} 云*~") == "%7B%22code%22%3A%221234%22%7D%20%E4%BA%91%2A~")
    }

    /// cloud.tencent.com/document/api/213/30654 ("签名方法 v3"), the worked example (CVM DescribeInstances).
    @Test func tencentTC3MatchesTheDocumentedExample() {
        let body = #"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#
        let signed = TencentSignatureV3.sign(service: "cvm", host: "cvm.tencentcloudapi.com", body: Data(body.utf8),
                                             timestamp: 1_551_113_065, secretID: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                                             secretKey: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE")
        #expect(signed.hashedCanonicalRequest == "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031")
        #expect(signed.signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")
        #expect(signed.authorization == "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168")
    }
}
