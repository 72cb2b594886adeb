import Foundation

/// A local HTTP server on 127.0.0.1 that speaks 企业微信's documented request and response shapes:
/// `GET /cgi-bin/gettoken`, `POST /cgi-bin/message/send` and `POST /cgi-bin/webhook/send?key=`.
/// Like WeCom it answers 200 with an `errcode`: a wrong corp id is 40013, a wrong secret 40001, a
/// stale token 42001 and an unknown one 40014; it checks every body field the type needs, the
/// agent id and the byte limits (45002), and a robot's 20 messages a minute (45009); a wrong
/// robot key is 93000. By the recipient: `w-busy` → -1, `w-limit` → 45009, `w-unknown` → 81013,
/// `w-expire` → the current token stops working once (42001), `w-partial` → ok with the member
/// listed in `invaliduser`; anyone else → ok with a `msgid`.
public final class WeComTestServer: @unchecked Sendable {
    private let server: LocalPythonServer
    public var port: Int { server.port }

    /// One request the server saw.
    public struct Request: Decodable, Sendable {
        public var method: String
        public var path: String
        public var body: String
        public var token: String?
        public var problems: [String]
    }

    /// Starts the server for corp `corpID`, app `agentID` with `secret`, and a robot with `robotKey`.
    public init(corpID: String = "ww0000000000000001", agentID: Int = 1000002, secret: String = "wecom-secret",
                robotKey: String = "robot-key-0001") throws {
        server = try LocalPythonServer(name: "wecom", script: Self.script, arguments: [corpID, String(agentID), secret, robotKey])
    }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Every request so far.
    public func requests() throws -> [Request] {
        try server.records("requests.jsonl", as: Request.self)
    }

    /// How many access tokens were handed out.
    public func tokenFetches() throws -> Int {
        try requests().filter { $0.path == "/cgi-bin/gettoken" }.count
    }

    static let script = #"""
import json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

folder = os.path.dirname(os.path.abspath(__file__))
corp_id, agent_id, secret, robot_key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
state = {"tokens": 0, "current": None, "old": set(), "expired_once": set(), "msgid": 1000, "robot": []}

def log(entry):
    with lock, open(os.path.join(folder, "requests.jsonl"), "a") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")

def hint(code):
    # WeCom appends a hint and the caller's IP: clients must read errcode only.
    return ", hint: [1700000000_1_abc], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=%d" % code

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, payload):
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, message):
        self.answer({"errcode": code, "errmsg": message + hint(code)})

    def do_GET(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        log({"method": "GET", "path": parts.path, "body": "", "token": None, "problems": []})
        if parts.path != "/cgi-bin/gettoken":
            return self.error(404, "not found")
        if (query.get("corpid") or [""])[0] != corp_id:
            return self.error(40013, "invalid corpid")
        if (query.get("corpsecret") or [""])[0] != secret:
            return self.error(40001, "invalid credential")
        with lock:
            if state["current"] is None:
                state["tokens"] += 1
                state["current"] = "ACCESS_TOKEN_%d" % state["tokens"]
            current = state["current"]
        self.answer({"errcode": 0, "errmsg": "ok", "access_token": current, "expires_in": 7200})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        token = (query.get("access_token") or [None])[0]
        problems = []
        try:
            body = json.loads(raw)
        except ValueError:
            body = {}
            problems.append("body is not JSON")
        if "application/json" not in (self.headers.get("Content-Type") or ""):
            problems.append("Content-Type is not application/json")
        if parts.path == "/cgi-bin/webhook/send":
            return self.robot(body, raw, (query.get("key") or [""])[0], problems)
        if parts.path != "/cgi-bin/message/send":
            log({"method": "POST", "path": parts.path, "body": raw.decode(), "token": token, "problems": problems})
            return self.error(404, "not found")
        msgtype = body.get("msgtype")
        targets = [k for k in ("touser", "toparty", "totag") if body.get(k)]
        if not targets:
            problems.append("no touser, toparty or totag")
        for k in targets:
            if "|" in body[k] or body[k] == "@all":
                problems.append("%s names more than one recipient" % k)
        if body.get("agentid") != agent_id:
            problems.append("agentid %r is not %d" % (body.get("agentid"), agent_id))
        if msgtype in ("text", "markdown"):
            if not isinstance(body.get(msgtype), dict) or not body[msgtype].get("content"):
                problems.append("%s.content missing" % msgtype)
        elif msgtype == "textcard":
            card = body.get("textcard") or {}
            for field in ("title", "description", "url"):
                if not card.get(field):
                    problems.append("textcard.%s missing" % field)
        else:
            problems.append("unknown msgtype %r" % msgtype)
        log({"method": "POST", "path": parts.path, "body": raw.decode(), "token": token, "problems": problems})
        if token is None:
            return self.error(41001, "access_token missing")
        if token in state["old"]:
            return self.error(42001, "access_token expired")
        if token != state["current"]:
            return self.error(40014, "invalid access_token")
        if problems:
            return self.error(40008 if "msgtype" in problems[0] else 44004, "invalid message: " + "; ".join(problems))
        content = (body.get(msgtype) or {}).get("content", "")
        if len(content.encode()) > 2048:
            return self.error(45002, "content size out of limit")
        to = body.get(targets[0], "")
        if to == "w-expire" and to not in state["expired_once"]:
            with lock:
                state["expired_once"].add(to)
                state["old"].add(state["current"])
                state["current"] = None
            return self.error(42001, "access_token expired")
        codes = {"w-busy": (-1, "system busy"), "w-limit": (45009, "api freq out of limit"),
                 "w-unknown": (81013, "user & party & tag all invalid")}
        if to in codes:
            return self.error(*codes[to])
        with lock:
            state["msgid"] += 1
            msgid = "msg%08d" % state["msgid"]
        answer = {"errcode": 0, "errmsg": "ok", "msgid": msgid}
        if to == "w-partial":
            answer["invaliduser"] = to
        self.answer(answer)

    def robot(self, body, raw, key, problems):
        msgtype = body.get("msgtype")
        if msgtype in ("text", "markdown"):
            content = (body.get(msgtype) or {}).get("content")
            limit = 2048 if msgtype == "text" else 4096
            if not content:
                problems.append("%s.content missing" % msgtype)
            elif len(content.encode()) > limit:
                problems.append("content over %d bytes" % limit)
        elif msgtype == "news":
            articles = (body.get("news") or {}).get("articles") or []
            if not 1 <= len(articles) <= 8 or not all(a.get("title") and a.get("url") for a in articles):
                problems.append("news needs 1-8 articles with title and url")
        else:
            problems.append("unknown msgtype %r" % msgtype)
        log({"method": "POST", "path": "/cgi-bin/webhook/send", "body": raw.decode(), "token": None, "problems": problems})
        if key != robot_key:
            return self.error(93000, "invalid webhook url")
        now = time.monotonic()
        with lock:
            state["robot"] = [t for t in state["robot"] if now - t < 60]
            if len(state["robot"]) >= 20:
                return self.error(45009, "api freq out of limit")
            state["robot"].append(now)
        if problems:
            return self.error(40008, "invalid message: " + "; ".join(problems))
        self.answer({"errcode": 0, "errmsg": "ok"})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
print("PORT %d" % server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
"""#
}
