import Foundation

/// A local HTTP server on 127.0.0.1 that speaks Aliyun's and Tencent Cloud's documented SendSms
/// wire formats and a webhook gateway's: it recomputes each request's signature (ACS3-HMAC-SHA256,
/// TC3-HMAC-SHA256, HMAC-SHA256) independently, checks the required headers and fields, and
/// answers with the documented response shapes. What it answers depends on the mobile's last
/// digits: `…0001` throttled on Aliyun, `…0002` an illegal number on Aliyun, `…0003` throttled
/// on both providers, anything else accepted.
public final class SMSProviderTestServer: @unchecked Sendable {
    private let server: LocalPythonServer
    public var port: Int { server.port }
    public var directory: URL { server.directory }

    /// One request the server saw.
    public struct Request: Decodable, Sendable {
        public var provider: String
        public var mobile: String
        public var signatureValid: Bool
        public var problems: [String]
        public var fields: [String: String]
    }

    /// Starts the server; the secrets are the ones the requests must be signed with.
    public init(aliyunSecret: String = "aliyun-secret", tencentSecret: String = "tencent-secret", webhookSecret: String = "webhook-secret") throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-sms-\(UUID().uuidString)")
        server = try LocalPythonServer(name: "sms", script: Self.script, arguments: [directory.path] + [aliyunSecret, tencentSecret, webhookSecret], directory: directory)
    }

    /// The base URL of one provider's endpoint: `aliyun`, `tencent` or `webhook`.
    public func endpoint(_ provider: String) -> String { "http://127.0.0.1:\(port)/\(provider)/" }

    /// herald.yaml's `sms:` section with channels `aliyun` and `tencent` pointing at this server,
    /// their secrets from `${TEST_ALIYUN_SECRET}` and `${TEST_TENCENT_SECRET}` (see `environment`).
    public var channelsYAML: String {
        """
        sms:
          channels:
            aliyun:
              transport: aliyun
              signature: 云商城
              access_key_id: LTAI-test
              access_key_secret: ${TEST_ALIYUN_SECRET}
              endpoint: \(endpoint("aliyun"))
            tencent:
              transport: tencent
              signature: 云商城
              secret_id: AKID-test
              secret_key: ${TEST_TENCENT_SECRET}
              sdk_app_id: "1400000001"
              endpoint: \(endpoint("tencent"))

        """
    }

    /// The environment `channelsYAML` reads its secrets from (the server's default secrets).
    public static let environment = ["TEST_ALIYUN_SECRET": "aliyun-secret", "TEST_TENCENT_SECRET": "tencent-secret"]

    /// Every request so far, in arrival order.
    public func requests() throws -> [Request] {
        try server.records("requests.jsonl", as: Request.self)
    }

    static let script = #"""
import hashlib, hmac, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qsl, quote

folder, aliyun_secret, tencent_secret, webhook_secret = sys.argv[1:5]
lock = threading.Lock()
counter = [0]

def next_number():
    with lock:
        counter[0] += 1
        return counter[0]

def log(entry):
    with lock, open(os.path.join(folder, "requests.jsonl"), "a") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")

def sha(data):
    return hashlib.sha256(data).hexdigest()

def enc(text):
    return quote(text, safe="-_.~")

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, payload):
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = urlsplit(self.path)
        if parts.path.startswith("/aliyun"):
            self.aliyun(parts, body)
        elif parts.path.startswith("/tencent"):
            self.tencent(body)
        else:
            self.webhook(body)

    # Aliyun V3: recompute ACS3-HMAC-SHA256 from the request as received.
    def aliyun(self, parts, body):
        problems = []
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        auth = self.headers.get("Authorization", "")
        fields = dict(item.split("=", 1) for item in auth.replace("ACS3-HMAC-SHA256 ", "").split(",") if "=" in item)
        signed = fields.get("SignedHeaders", "").split(";")
        canonical_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query.items(), key=lambda kv: enc(kv[0])))
        canonical_headers = "".join(f"{name}:{(self.headers.get(name) or '').strip()}\n" for name in signed)
        if self.headers.get("x-acs-content-sha256") != sha(body):
            problems.append("x-acs-content-sha256 is not the body's hash")
        canonical = "\n".join(["POST", "/", canonical_query, canonical_headers, ";".join(signed), sha(body)])
        expected = hmac.new(aliyun_secret.encode(), ("ACS3-HMAC-SHA256\n" + sha(canonical.encode())).encode(), hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, fields.get("Signature", ""))
        for header in ["host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"]:
            if header not in signed:
                problems.append(f"{header} is not signed")
        if self.headers.get("x-acs-action") != "SendSms" or self.headers.get("x-acs-version") != "2017-05-25":
            problems.append("x-acs-action/x-acs-version are not SendSms/2017-05-25")
        for name in ["PhoneNumbers", "SignName", "TemplateCode", "TemplateParam", "OutId"]:
            if not query.get(name):
                problems.append(f"{name} is missing")
        try:
            json.loads(query.get("TemplateParam", ""))
        except ValueError:
            problems.append("TemplateParam is not JSON")
        mobile = query.get("PhoneNumbers", "")
        log({"provider": "aliyun", "mobile": mobile, "signatureValid": valid, "problems": problems, "fields": query})
        request_id = "req-%d" % time.time_ns()
        if not valid:
            return self.answer(200, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched with our calculation.", "RequestId": request_id})
        if problems:
            return self.answer(200, {"Code": "isv.INVALID_PARAMETERS", "Message": "; ".join(problems), "RequestId": request_id})
        if mobile.endswith("0001") or mobile.endswith("0003"):
            return self.answer(200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1", "RequestId": request_id})
        if mobile.endswith("0002"):
            return self.answer(200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": request_id})
        self.answer(200, {"Code": "OK", "Message": "OK", "BizId": "9006197469364984^%d" % next_number(), "RequestId": request_id})

    # Tencent Cloud API 3.0: recompute TC3-HMAC-SHA256.
    def tencent(self, body):
        problems = []
        auth = self.headers.get("Authorization", "")
        timestamp = self.headers.get("X-TC-Timestamp", "0")
        date = time.strftime("%Y-%m-%d", time.gmtime(int(timestamp)))
        canonical_headers = f"content-type:{self.headers.get('Content-Type', '').lower()}\nhost:{self.headers.get('Host', '').lower()}\n"
        canonical = "\n".join(["POST", "/", "", canonical_headers, "content-type;host", sha(body)])
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{date}/sms/tc3_request\n{sha(canonical.encode())}"
        key = hmac.new(("TC3" + tencent_secret).encode(), date.encode(), hashlib.sha256).digest()
        key = hmac.new(key, b"sms", hashlib.sha256).digest()
        key = hmac.new(key, b"tc3_request", hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        valid = auth.endswith("Signature=" + expected) and f"/{date}/sms/tc3_request" in auth
        if self.headers.get("X-TC-Action") != "SendSms" or self.headers.get("X-TC-Version") != "2021-01-11":
            problems.append("X-TC-Action/X-TC-Version are not SendSms/2021-01-11")
        if not self.headers.get("X-TC-Region"):
            problems.append("X-TC-Region is missing")
        request = json.loads(body or b"{}")
        for name in ["PhoneNumberSet", "SmsSdkAppId", "SignName", "TemplateId", "TemplateParamSet"]:
            if name not in request:
                problems.append(f"{name} is missing")
        mobile = (request.get("PhoneNumberSet") or [""])[0]
        log({"provider": "tencent", "mobile": mobile, "signatureValid": valid, "problems": problems,
             "fields": {k: json.dumps(v, ensure_ascii=False) for k, v in request.items()}})
        request_id = "req-%d" % time.time_ns()
        if not valid:
            return self.answer(200, {"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "The provided credentials could not be validated."}, "RequestId": request_id}})
        if problems:
            return self.answer(200, {"Response": {"Error": {"Code": "InvalidParameter", "Message": "; ".join(problems)}, "RequestId": request_id}})
        if mobile.endswith("0003"):
            status = {"SerialNo": "", "PhoneNumber": mobile, "Fee": 0, "SessionContext": request.get("SessionContext", ""),
                      "Code": "LimitExceeded.PhoneNumberThirtySecondLimit", "Message": "单个手机号30秒内下发短信条数超过设定的上限", "IsoCode": "CN"}
        else:
            status = {"SerialNo": "2645:10416260213159207317143936%02d" % next_number(), "PhoneNumber": mobile, "Fee": 1,
                      "SessionContext": request.get("SessionContext", ""), "Code": "Ok", "Message": "send success", "IsoCode": "CN"}
        self.answer(200, {"Response": {"SendStatusSet": [status], "RequestId": request_id}})

    def webhook(self, body):
        timestamp = self.headers.get("X-Herald-Timestamp", "")
        expected = hmac.new(webhook_secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        valid = hmac.compare_digest(expected, self.headers.get("X-Herald-Signature", ""))
        request = json.loads(body or b"{}")
        log({"provider": "webhook", "mobile": request.get("to", ""), "signatureValid": valid, "problems": [],
             "fields": {k: str(v) for k, v in request.items()}})
        if not valid:
            return self.answer(401, {"error": "bad signature"})
        self.answer(200, {"id": "gw-" + request.get("message_id", "")})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("PORT %d" % server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
"""#
}
