import Foundation

/// A local HTTP server on 127.0.0.1 that speaks the WeChat API's documented request and response
/// shapes: `POST /cgi-bin/stable_token`, `/cgi-bin/message/template/send` and
/// `/cgi-bin/message/subscribe/send`. It checks the app secret, the access token and the required
/// fields, and answers by the `touser`: `o-busy` → -1, `o-limit` → 45009, `o-refused` → 43101,
/// `o-bad` → 40003, `o-expire` → the current token stops working once (40001); anyone else → ok.
public final class WeChatTestServer: @unchecked Sendable {
    private let server: LocalPythonServer
    public var port: Int { server.port }
    public var directory: URL { server.directory }

    /// One request the server saw.
    public struct Request: Decodable, Sendable {
        public var path: String
        public var body: String
        public var token: String?
        public var problems: [String]
    }

    /// Starts the server for an app with `appID` and `secret`.
    public init(appID: String = "wx0000000000000001", secret: String = "wechat-secret") throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-wechat-\(UUID().uuidString)")
        server = try LocalPythonServer(name: "wechat", script: Self.script, arguments: [directory.path] + [appID, secret], directory: directory)
    }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Every request so far.
    public func requests() throws -> [Request] {
        try server.records("requests.jsonl", as: Request.self)
    }

    static let script = #"""
import json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

folder, app_id, secret = sys.argv[1:4]
lock = threading.Lock()
state = {"tokens": 0, "current": None, "expired_once": set(), "msgid": 1000}

def log(entry):
    with lock, open(os.path.join(folder, "requests.jsonl"), "a") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, payload):
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; encoding=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = urlsplit(self.path)
        token = (parse_qs(parts.query).get("access_token") or [None])[0]
        problems = []
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
            problems.append("body is not JSON")
        log({"path": parts.path, "body": raw.decode(), "token": token, "problems": problems})
        if parts.path == "/cgi-bin/stable_token":
            if body.get("grant_type") != "client_credential" or body.get("appid") != app_id or body.get("secret") != secret:
                return self.answer({"errcode": 40125, "errmsg": "invalid appsecret"})
            with lock:
                if state["current"] is None or body.get("force_refresh"):
                    state["tokens"] += 1
                    state["current"] = "TOKEN_%d" % state["tokens"]
                current = state["current"]
            return self.answer({"access_token": current, "expires_in": 7200})
        if token != state["current"]:
            return self.answer({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
        touser = body.get("touser", "")
        if touser == "o-expire" and touser not in state["expired_once"]:
            state["expired_once"].add(touser)
            with lock:
                state["current"] = "EXPIRED"
            return self.answer({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"})
        required = ["touser", "template_id", "data"]
        if parts.path == "/cgi-bin/message/subscribe/send":
            required += ["miniprogram_state", "lang"]
            if body.get("miniprogram_state") not in ("developer", "trial", "formal"):
                return self.answer({"errcode": 47003, "errmsg": "argument invalid! miniprogram_state"})
        missing = [name for name in required if name not in body]
        if missing or not all(isinstance(v, dict) and "value" in v for v in body.get("data", {}).values()):
            return self.answer({"errcode": 47003, "errmsg": "argument invalid! " + ",".join(missing or ["data"])})
        codes = {"o-busy": (-1, "system error"), "o-limit": (45009, "reach max api daily quota limit"),
                 "o-refused": (43101, "user refuse to accept the msg"), "o-bad": (40003, "invalid openid")}
        if touser in codes:
            code, message = codes[touser]
            return self.answer({"errcode": code, "errmsg": message})
        with lock:
            state["msgid"] += 1
            msgid = state["msgid"]
        self.answer({"errcode": 0, "errmsg": "ok", "msgid": msgid})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("PORT %d" % server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
"""#
}
