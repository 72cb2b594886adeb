import Foundation

/// A local HTTP server on 127.0.0.1 that speaks 钉钉's documented request and response shapes:
/// `GET /gettoken`, `POST /topapi/message/corpconversation/asyncsend_v2` and `POST /robot/send`.
/// Like DingTalk it answers 200 with an `errcode`: bad app credentials are 40096, a token it did
/// not issue (or one it expired) is 88 with `sub_code` 40014; it checks the agent id and the
/// snake_case `msg`; a robot's access token (300005 when wrong), its 加签 (`timestamp` within an
/// hour and `sign` = urlencode(base64(HMAC-SHA256(secret, timestamp + "\n" + secret))), else
/// 310000) and its 20 messages a minute (660026, then blocked for 10 minutes). By the member:
/// `d-busy` → -1, `d-qpm` → 143103, `d-expire` → the current token stops working once.
public final class DingTalkTestServer: @unchecked Sendable {
    private let server: LocalPythonServer
    public var port: Int { server.port }

    /// One request the server saw.
    public struct Request: Decodable, Sendable {
        public var method: String
        public var path: String
        public var query: String
        public var body: String
        public var problems: [String]
    }

    /// Starts the server for app `appKey`/`appSecret`/`agentID` and a robot with `robotToken` and `robotSecret`.
    public init(appKey: String = "dingappkey0001", appSecret: String = "dingtalk-secret", agentID: Int = 2890001,
                robotToken: String = "robot-token-0001", robotSecret: String = "SEC0123456789abcdef") throws {
        server = try LocalPythonServer(name: "dingtalk", script: Self.script,
                                       arguments: [appKey, appSecret, String(agentID), robotToken, robotSecret])
    }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Every request so far.
    public func requests() throws -> [Request] {
        try server.records("requests.jsonl", as: Request.self)
    }

    /// How many access tokens were handed out or refused.
    public func tokenFetches() throws -> Int {
        try requests().filter { $0.path == "/gettoken" }.count
    }

    static let script = #"""
import base64, hashlib, hmac, json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

folder = os.path.dirname(os.path.abspath(__file__))
app_key, app_secret, agent_id, robot_token, robot_secret = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
lock = threading.Lock()
state = {"tokens": 0, "current": None, "expired_once": set(), "task": 256271667526, "robot": [], "blocked_until": 0.0}

def log(entry):
    with lock, open(os.path.join(folder, "requests.jsonl"), "a") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, payload):
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        log({"method": "GET", "path": parts.path, "query": parts.query, "body": "", "problems": []})
        if parts.path != "/gettoken":
            return self.answer({"errcode": 404, "errmsg": "not found"})
        if (query.get("appkey") or [""])[0] != app_key or (query.get("appsecret") or [""])[0] != app_secret:
            return self.answer({"errcode": 40096, "errmsg": "不合法的appKey或appSecret"})
        with lock:
            if state["current"] is None:
                state["tokens"] += 1
                state["current"] = "dt_token_%d" % state["tokens"]
            current = state["current"]
        self.answer({"errcode": 0, "access_token": current, "errmsg": "ok", "expires_in": 7200})

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
        if parts.path == "/robot/send":
            return self.robot(body, raw, parts, query, problems)
        msg = body.get("msg") or {}
        msgtype = msg.get("msgtype")
        need = {"text": ["content"], "markdown": ["title", "text"], "link": ["messageUrl", "title", "text"],
                "action_card": ["title", "markdown", "single_title", "single_url"]}
        if msgtype not in need:
            problems.append("unknown msgtype %r" % msgtype)
        else:
            missing = [f for f in need[msgtype] if not (msg.get(msgtype) or {}).get(f)]
            if missing:
                problems.append("msg.%s lacks %s" % (msgtype, ", ".join(missing)))
        if body.get("agent_id") != agent_id:
            problems.append("agent_id %r is not %d" % (body.get("agent_id"), agent_id))
        targets = [body.get(k) for k in ("userid_list", "dept_id_list") if body.get(k)]
        if not targets:
            problems.append("no userid_list or dept_id_list")
        elif any("," in t for t in targets):
            problems.append("more than one recipient")
        log({"method": "POST", "path": parts.path, "query": parts.query, "body": raw.decode(), "problems": problems})
        if parts.path != "/topapi/message/corpconversation/asyncsend_v2":
            return self.answer({"errcode": 404, "errmsg": "not found"})
        token = query.get("access_token")
        if token is None or token != state["current"]:
            return self.answer({"errcode": 88, "sub_code": "40014", "sub_msg": "不合法的access_token",
                                "errmsg": "ding talk error[subcode=40014,submsg=不合法的access_token]", "request_id": "r1"})
        if problems:
            return self.answer({"errcode": 40035, "errmsg": "缺少参数: " + "; ".join(problems)})
        user = targets[0]
        if user == "d-expire" and user not in state["expired_once"]:
            with lock:
                state["expired_once"].add(user)
                state["current"] = None
            return self.answer({"errcode": 88, "sub_code": "40014", "sub_msg": "不合法的access_token",
                                "errmsg": "ding talk error[subcode=40014,submsg=不合法的access_token]", "request_id": "r2"})
        codes = {"d-busy": (-1, "系统繁忙"), "d-qpm": (143103, "超过应用发送人次QPM限制")}
        if user in codes:
            code, message = codes[user]
            return self.answer({"errcode": code, "errmsg": message})
        with lock:
            state["task"] += 1
            task = state["task"]
        self.answer({"errcode": 0, "task_id": task, "request_id": "4jzllmte0wau"})

    def robot(self, body, raw, parts, query, problems):
        msgtype = body.get("msgtype")
        need = {"text": ["content"], "markdown": ["title", "text"], "link": ["messageUrl", "title", "text"],
                "actionCard": ["title", "text", "singleTitle", "singleURL"]}
        if msgtype not in need:
            problems.append("unknown msgtype %r" % msgtype)
        else:
            missing = [f for f in need[msgtype] if not (body.get(msgtype) or {}).get(f)]
            if missing:
                problems.append("%s lacks %s" % (msgtype, ", ".join(missing)))
        log({"method": "POST", "path": parts.path, "query": parts.query, "body": raw.decode(), "problems": problems})
        if query.get("access_token") != robot_token:
            return self.answer({"errcode": 300005, "errmsg": "token is not exist"})
        if robot_secret:
            try:
                ts = int(query.get("timestamp", ""))
            except ValueError:
                return self.answer({"errcode": 310000, "errmsg": "invalid timestamp"})
            if abs(time.time() * 1000 - ts) > 3600000:
                return self.answer({"errcode": 310000, "errmsg": "invalid timestamp"})
            # parse_qs has URL-decoded `sign` already (%2B back to +).
            expected = base64.b64encode(hmac.new(robot_secret.encode(), ("%d\n%s" % (ts, robot_secret)).encode(), hashlib.sha256).digest()).decode()
            if not hmac.compare_digest(expected, query.get("sign", "")):
                return self.answer({"errcode": 310000, "errmsg": "sign not match"})
        now = time.monotonic()
        with lock:
            if now < state["blocked_until"]:
                return self.answer({"errcode": 660026, "errmsg": "sending too many messages per minute"})
            state["robot"] = [t for t in state["robot"] if now - t < 60]
            if len(state["robot"]) >= 20:
                state["blocked_until"] = now + 600
                return self.answer({"errcode": 660026, "errmsg": "sending too many messages per minute"})
            state["robot"].append(now)
        if problems:
            return self.answer({"errcode": 40035, "errmsg": "缺少参数: " + "; ".join(problems)})
        self.answer({"errcode": 0, "errmsg": "ok"})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("PORT %d" % server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
"""#
}
