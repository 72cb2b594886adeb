#!/usr/bin/env python3
"""See sse.sh. Usage: sse.py HERALD CLIENTS"""
import asyncio, json, os, subprocess, sys, tempfile, time

herald, clients = sys.argv[1], int(sys.argv[2])
work = tempfile.mkdtemp(prefix="herald-sse-")
os.makedirs(f"{work}/templates"); os.makedirs(f"{work}/recipients/inbox")
token = "sse-bench-token-0123456789"
with open(f"{work}/herald.yaml", "w") as f:
    f.write('serve:\n  max_connections: %d\n  clients:\n    app: {token: "${BENCH_TOKEN}", tenants: [0]}\n' % (clients + 100))
with open(f"{work}/templates/order_shipped.yaml", "w") as f:
    f.write('site: {nickname: 商城助手, content: "{user}，您的订单 {orderId} 已发货"}\n')
env = dict(os.environ, BENCH_TOKEN=token)
subprocess.run([herald, "run", "-C", work], env=env, capture_output=True, check=True)
serve = subprocess.Popen([herald, "serve", "-C", work, "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
port = int(serve.stdout.readline().decode().rsplit(":", 1)[1])

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
baseline = rss_mb(serve.pid)

received = {}        # user → [(event, data, at)]
connected = asyncio.Event() if False else None

async def client(user, ready):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /v1/users/{user}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    received[user] = []
    buffer = b""
    first = True
    while True:
        chunk = await reader.read(65536)
        if not chunk: return
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            text = block.decode()
            if text.startswith("HTTP/") or text.startswith("retry") or text.startswith(":"): continue
            fields = dict(line.split(": ", 1) for line in text.split("\n") if ": " in line)
            received[user].append((fields.get("event"), fields.get("data"), time.time()))
            if first:
                first = False
                ready.append(user)

async def main():
    ready = []
    tasks = [asyncio.create_task(client(f"u{i}", ready)) for i in range(clients)]
    start = time.time()
    while len(ready) < clients and time.time() - start < 60:
        await asyncio.sleep(0.1)
    connect_seconds = time.time() - start
    await asyncio.sleep(1)
    idle = rss_mb(serve.pid)
    with open(f"{work}/recipients/inbox/order_shipped.live.csv", "w") as f:
        f.write("user_id,user,orderId\n" + "".join(f"u{i},用户{i},A{i}\n" for i in range(clients)))
    run = await asyncio.create_subprocess_exec(herald, "run", "-C", work, "--settle", "0s", env=env,
                                               stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await run.wait()
    deadline = time.time() + 15
    while time.time() < deadline and sum(1 for u in received if any(e == "message" for e, _, _ in received[u])) < clients:
        await asyncio.sleep(0.1)
    busy = rss_mb(serve.pid)
    for task in tasks: task.cancel()
    return ready, connect_seconds, idle, busy

ready, connect_seconds, idle, busy = asyncio.run(main())
serve.terminate(); serve.wait()

logged = {}
for name in sorted(n for n in os.listdir(f"{work}/outbox/log") if n.endswith(".jsonl")):
    for line in open(f"{work}/outbox/log/{name}"):
        event = json.loads(line)
        if event.get("channel") == "site" and event.get("status") == "sent" and event.get("file") == "order_shipped.live.csv":
            from datetime import datetime
            logged[event["recipient"]] = datetime.fromisoformat(event["ts"]).timestamp()
latencies, wrong, missing = [], 0, 0
for i in range(clients):
    user = f"u{i}"
    messages = [(d, at) for e, d, at in received.get(user, []) if e == "message"]
    if not messages: missing += 1; continue
    for data, at in messages:
        if f"用户{i}，" not in json.loads(data)["content"]: wrong += 1
    if user in logged: latencies.append((messages[0][1] - logged[user]) * 1000)
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
print(f"live events: {clients} SSE clients on one herald serve (connected in {connect_seconds:.1f}s)")
print(f"server RSS: {baseline:.1f} MB before clients, {idle:.1f} MB with {clients} idle clients "
      f"({(idle - baseline) * 1024 / max(1, clients):.1f} KB per client), {busy:.1f} MB after the batch")
print(f"a batch of {clients} 站内信 (one per client) stored by herald run: {clients - missing} clients got theirs, "
      f"{missing} missing, {wrong} got someone else's")
print(f"event latency (arrival - log line): p50 {pick(0.5):.0f} ms  p99 {pick(0.99):.0f} ms  max {latencies[-1] if latencies else float('nan'):.0f} ms")
subprocess.run(["rm", "-rf", work])
sys.exit(1 if missing or wrong else 0)
