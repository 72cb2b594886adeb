#!/usr/bin/env python3
"""Drop-to-provider latency of `herald watch`; see latency.sh. Usage: latency.py HERALD DROPS"""
import http.server, json, os, socket, subprocess, sys, tempfile, threading, time

herald, drops = sys.argv[1], int(sys.argv[2])
arrivals = {}
arrived = threading.Condition()

class Provider(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: with Nagle on, the body waits for the client's
    # delayed ACK (40 ms on Linux), which would be measured as Herald's latency.
    disable_nagle_algorithm = True
    def do_POST(self):
        at = time.time()
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with arrived:
            arrivals[body["params"]["code"]] = at
            arrived.notify_all()
        reply = b'{"id": "gw-1"}'
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply))); self.end_headers(); self.wfile.write(reply)
    def log_message(self, *args): pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Provider)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]

work = tempfile.mkdtemp(prefix="herald-latency-")
os.makedirs(f"{work}/templates"); os.makedirs(f"{work}/recipients/inbox")
with open(f"{work}/herald.yaml", "w") as f:
    f.write(f"""log: {{recipients: masked}}
caps: {{sms: [none]}}
sms:
  channels:
    gateway: {{transport: webhook, url: "http://127.0.0.1:{port}/send", secret: "${{HERALD_SMS_WEBHOOK_SECRET}}", signature: 云商城}}
""")
with open(f"{work}/templates/verify_code.yaml", "w") as f:
    f.write('category: verification\nsms: {channel: gateway, api_template_id: SMS_1, content: "您的验证码是{code}，5分钟内有效。"}\n')
env = dict(os.environ, HERALD_SMS_WEBHOOK_SECRET="s" * 32)
watch = subprocess.Popen([herald, "watch", "-C", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
time.sleep(1.5)

def drop(code, rename=True):
    name = f"{work}/recipients/inbox/verify_code.{code}.csv"
    start = time.time()
    if rename:
        with open(name + ".tmp", "w") as f: f.write(f"mobile,code\n13800138000,{code}\n")
        os.rename(name + ".tmp", name)
    else:
        with open(name, "w") as f: f.write(f"mobile,code\n13800138000,{code}\n")
    with arrived:
        while code not in arrivals:
            if not arrived.wait(timeout=30): sys.exit(f"drop {code} never reached the provider")
    return (arrivals[code] - start) * 1000

def figures(values):
    values = sorted(values)
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    return f"p50 {pick(0.5):7.1f} ms  p90 {pick(0.9):7.1f} ms  p99 {pick(0.99):7.1f} ms  max {values[-1]:7.1f} ms"

renamed = [drop(f"{100000 + i}") for i in range(drops)]
in_place = [drop(f"{900000 + i}", rename=False) for i in range(5)]

# POST /v1/notifications at a steady rate: request sent → provider request, with the watcher running.
import http.client, concurrent.futures, threading as th
token = "latency-bench-token-0123456789"
with open(f"{work}/herald.yaml", "a") as f:
    f.write('serve:\n  clients:\n    app: {token: "${BENCH_TOKEN}", tenants: [0], scopes: [inbox, send]}\n')
env["BENCH_TOKEN"] = token
watch.terminate(); watch.wait()
watch = subprocess.Popen([herald, "watch", "-C", work], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
serve = subprocess.Popen([herald, "serve", "-C", work, "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
api_port = int(serve.stdout.readline().decode().rsplit(":", 1)[1])
time.sleep(1)
rate, seconds = int(os.environ.get("API_RATE", "200")), int(os.environ.get("API_SECONDS", "10"))
local = th.local()
sent_at, statuses = {}, []
def post(i):
    code = f"{500000 + i}"
    if not hasattr(local, "conn"): local.conn = http.client.HTTPConnection("127.0.0.1", api_port)
    body = json.dumps({"template": "verify_code", "mobile": "13800138000", "params": {"code": code}})
    sent_at[code] = time.time()
    local.conn.request("POST", "/v1/notifications", body, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    response = local.conn.getresponse(); response.read()
    statuses.append(response.status)
start = time.time()
with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
    for i in range(rate * seconds):
        delay = start + i / rate - time.time()
        if delay > 0: time.sleep(delay)
        pool.submit(post, i)
with arrived:
    deadline = time.time() + 30
    while sum(1 for c in sent_at if c in arrivals) < len(sent_at) and time.time() < deadline:
        arrived.wait(timeout=1)
api = [(arrivals[c] - sent_at[c]) * 1000 for c in sent_at if c in arrivals]
serve.terminate(); serve.wait()
watch.terminate(); watch.wait()
print(f"drop-to-provider latency, one-row verification file, running herald watch, webhook to 127.0.0.1")
print(f"renamed into the inbox ({drops} drops):  {figures(renamed)}")
print(f"written in place (5 drops, settle 2s):  {figures(in_place)}")
print(f"in place / renamed, p50: {sorted(in_place)[len(in_place)//2] / sorted(renamed)[len(renamed)//2]:.0f}x")
print(f"POST /v1/notifications at {rate}/s for {seconds}s ({len(statuses)} requests, {statuses.count(202)} answered 202), "
      f"request to provider: {figures(api)}; {len(sent_at) - len(api)} never arrived")
subprocess.run(["rm", "-rf", work])
