#!/usr/bin/env python3
"""The workers benchmark; see workers.sh. Usage: workers.py HERALD ROWS"""
import asyncio, os, resource, socket, subprocess, sys, tempfile, threading, time, uuid
from aiosmtpd.controller import Controller

herald, rows = sys.argv[1], int(sys.argv[2])
database = os.environ["HERALD_TEST_DATABASE_URL"]
connections = 4

received = 0
lock = threading.Lock()

class SlowSink:
    async def handle_DATA(self, server, session, envelope):
        global received
        await asyncio.sleep(0.020)  # a provider that takes 20 ms per message
        with lock:
            received += len(envelope.rcpt_tos)
        return "250 2.0.0 Ok"

probe = socket.socket(); probe.bind(("127.0.0.1", 0)); port = probe.getsockname()[1]; probe.close()
controller = Controller(SlowSink(), hostname="127.0.0.1", port=port)
controller.start()

def psql(sql):
    return subprocess.run(["psql", database, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()

def workspace(root, yaml, template):
    os.makedirs(f"{root}/templates"); os.makedirs(f"{root}/recipients/inbox")
    with open(f"{root}/herald.yaml", "w") as f: f.write(yaml)
    with open(f"{root}/templates/notice.yaml", "w") as f: f.write(template)

def drop(root, count, mobile=False):
    path = f"{root}/recipients/inbox/notice.bench.csv"
    with open(path + ".tmp", "w") as f:
        f.write("email,mobile,name,orderId\n" if mobile else "email,name,orderId\n")
        for i in range(count):
            f.write(f"user{i}@example.com,138{i:08d},用户{i},A{i:06d}\n" if mobile else f"user{i}@example.com,用户{i},A{i:06d}\n")
    os.rename(path + ".tmp", path)

def workers_run(n):
    global received
    schema = "bench_" + uuid.uuid4().hex[:10]
    psql(f"CREATE SCHEMA {schema}")
    work = tempfile.mkdtemp(prefix="herald-workers-bench-")
    yaml = f"""log: {{recipients: masked}}
inbox: {{settle: 0s}}
watch: {{interval: 100ms}}
pipeline: {{chunk: 100}}
store: {{url: "${{HERALD_DATABASE_URL}}", schema: {schema}, pool: 4}}
worker: {{name: "${{HERALD_WORKER}}"}}
mail:
  accounts:
    relay: {{transport: smtp, host: 127.0.0.1, port: {port}, security: none, from: noreply@shop.example.com, connections: {connections}}}
"""
    template = 'mail: {account: relay, nickname: 云商城, title: "通知 {name}", text: "{name}，您好。订单 {orderId} 已发货。"}\n'
    processes = []
    for w in range(n):
        workspace(f"{work}/w{w}", yaml, template)
        env = dict(os.environ, HERALD_DATABASE_URL=database, HERALD_WORKER=f"w{w}")
        processes.append(subprocess.Popen([herald, "watch", "-C", f"{work}/w{w}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
    time.sleep(1.5)
    with lock: received = 0
    drop(f"{work}/w0", rows)
    start = time.time()
    while time.time() - start < 600:
        time.sleep(0.05)
        with lock:
            if received >= rows: break
    elapsed = time.time() - start
    for p in processes: p.terminate()
    for p in processes: p.wait()
    psql(f"DROP SCHEMA {schema} CASCADE")
    subprocess.run(["rm", "-rf", work])
    return elapsed

print(f"workers: {rows} mail rows, SMTP sink answering each message after 20 ms, {connections} connections per worker")
print(f"{'workers':>8} {'seconds':>9} {'msg/s':>8} {'vs N x one':>11}")
one = None
for n in (1, 2, 4) if rows > 0 else ():
    elapsed = workers_run(n)
    rate = rows / elapsed
    one = one or rate
    print(f"{n:>8} {elapsed:>9.2f} {rate:>8.0f} {rate / (n * one):>11.2f}")
controller.stop()

