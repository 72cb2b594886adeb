import Foundation

/// A local HTTP server on 127.0.0.1 that speaks 飞书's documented shapes:
/// `POST /open-apis/auth/v3/tenant_access_token/internal`, `POST /open-apis/im/v1/messages` and
/// `POST /open-apis/bot/v2/hook/{token}`. Bad app credentials are 10003; a token it did not issue
/// is HTTP 400 with 99991663 (99991661 without `Bearer `); it checks `receive_id_type`, that an
/// app message's `content` is a JSON *string* and a bot's an object, and the bot's signature
/// (the string `timestamp + "\n" + secret` is the HMAC key, the message empty; 19021 when wrong
/// or over an hour old). By the receive id: `f-limit` → HTTP 429 with 99991400, `f-gone` →
/// 230013, `f-expire` → the current token stops working once.
public final class FeishuTestServer: @unchecked Sendable {
    private let server: LocalPythonServer
    public var port: Int { server.port }

    /// One request the server saw.
    public struct Request: Decodable, Sendable {
        public var path: String
        public var query: String
        public var body: String
        public var problems: [String]
    }

    /// Starts the server for app `appID`/`appSecret` and a bot `hook` signing with `botSecret`.
    public init(appID: String = "cli_a0000000000001", appSecret: String = "feishu-secret", hook: String = "hook-0001",
                botSecret: String = "demo") throws {
        server = try LocalPythonServer(name: "feishu", script: Self.script, arguments: [appID, appSecret, hook, botSecret])
    }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Every request so far.
    public func requests() throws -> [Request] {
        try server.records("requests.jsonl", as: Request.self)
    }

    /// How many tokens were asked for.
    public func tokenFetches() throws -> Int {
        try requests().filter { $0.path.hasSuffix("/tenant_access_token/internal") }.count
    }

    static let script = #"""
import base64, hashlib, hmac, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

folder = os.path.dirname(os.path.abspath(__file__))
app_id, app_secret, hook, bot_secret = sys.argv[1:5]
lock = threading.Lock()
state = {"tokens": 0, "current": None, "expired_once": set(), "message": 0}

def log(entry):
    with lock, open(os.path.join(folder, "requests.jsonl"), "a") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, payload, status=200):
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        problems = []
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
            problems.append("body is not JSON")
        if parts.path == "/open-apis/auth/v3/tenant_access_token/internal":
            log({"path": parts.path, "query": parts.query, "body": raw.decode(), "problems": problems})
            if body.get("app_id") != app_id or body.get("app_secret") != app_secret:
                return self.answer({"code": 10003, "msg": "invalid param"})
            with lock:
                if state["current"] is None:
                    state["tokens"] += 1
                    state["current"] = "t-g104feishu%04d" % state["tokens"]
                current = state["current"]
            return self.answer({"code": 0, "msg": "ok", "tenant_access_token": current, "expire": 7200})
        if parts.path.startswith("/open-apis/bot/v2/hook/"):
            return self.bot(body, raw, parts, problems)
        if query.get("receive_id_type") not in ("open_id", "user_id", "union_id", "email", "chat_id"):
            problems.append("receive_id_type %r" % query.get("receive_id_type"))
        if not isinstance(body.get("content"), str):
            problems.append("content is not a JSON string")
        else:
            try:
                json.loads(body["content"])
            except ValueError:
                problems.append("content is not JSON")
        if body.get("msg_type") not in ("text", "post", "interactive"):
            problems.append("msg_type %r" % body.get("msg_type"))
        if not body.get("uuid") or len(body["uuid"]) > 50:
            problems.append("uuid missing or over 50 characters")
        log({"path": parts.path, "query": parts.query, "body": raw.decode(), "problems": problems})
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return self.answer({"code": 99991661, "msg": "Missing access token for authorization"}, 400)
        if auth[7:] != state["current"]:
            return self.answer({"code": 99991663, "msg": "Invalid access token for authorization"}, 400)
        if problems:
            return self.answer({"code": 230001, "msg": "invalid request: " + "; ".join(problems)}, 400)
        receiver = body.get("receive_id")
        if receiver == "f-expire" and receiver not in state["expired_once"]:
            with lock:
                state["expired_once"].add(receiver)
                state["current"] = None
            return self.answer({"code": 99991663, "msg": "Invalid access token for authorization"}, 400)
        if receiver == "f-limit":
            return self.answer({"code": 99991400, "msg": "request trigger frequency limit"}, 429)
        if receiver == "f-gone":
            return self.answer({"code": 230013, "msg": "Bot has NO availability to this user."}, 400)
        with lock:
            state["message"] += 1
            number = state["message"]
        self.answer({"code": 0, "msg": "success", "data": {"message_id": "om_%032d" % number, "msg_type": body.get("msg_type")}})

    def bot(self, body, raw, parts, problems):
        kind = body.get("msg_type")
        if kind == "text":
            if not isinstance(body.get("content"), dict) or not body["content"].get("text"):
                problems.append("content.text missing (content must be an object)")
        elif kind == "interactive":
            if not isinstance(body.get("card"), dict):
                problems.append("card missing")
        else:
            problems.append("msg_type %r" % kind)
        log({"path": parts.path, "query": parts.query, "body": raw.decode(), "problems": problems})
        if parts.path.rsplit("/", 1)[-1] != hook:
            return self.answer({"code": 19001, "msg": "param invalid: incoming webhook access token invalid"})
        if bot_secret:
            ts = body.get("timestamp", "")
            expected = base64.b64encode(hmac.new(("%s\n%s" % (ts, bot_secret)).encode(), b"", hashlib.sha256).digest()).decode()
            fresh = ts.isdigit() and abs(time.time() - int(ts)) <= 3600
            if not fresh or not hmac.compare_digest(expected, body.get("sign", "")):
                return self.answer({"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"})
        if problems:
            return self.answer({"code": 9499, "msg": "Bad Request"})
        self.answer({"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("PORT %d" % server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
"""#
}
