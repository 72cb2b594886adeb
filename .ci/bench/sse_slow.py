#!/usr/bin/env python3
"""See sse_slow.sh. Usage: sse_slow.py HERALD MESSAGES CLIENTS..."""
import os, socket, subprocess, sys, tempfile, threading, time

herald, messages, phases = sys.argv[1], int(sys.argv[2]), [int(n) for n in sys.argv[3:]]
token = "sse-slow-bench-token-0123456789"
env = dict(os.environ, BENCH_TOKEN=token)

def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"): return int(line.split()[1]) / 1024
    except FileNotFoundError:
        return 0.0

def phase(clients):
    work = tempfile.mkdtemp(prefix="herald-sse-slow-")
    os.makedirs(f"{work}/templates"); os.makedirs(f"{work}/recipients/inbox")
    with open(f"{work}/herald.yaml", "w") as f:
        f.write('serve:\n  max_connections: %d\n  clients:\n    app: {token: "${BENCH_TOKEN}", tenants: [0]}\n' % (clients + 100))
    with open(f"{work}/templates/order_shipped.yaml", "w") as f:
        f.write('site: {nickname: 商城助手, content: "{user}，您的订单 {orderId} 已发货，请留意查收。"}\n')
    subprocess.run([herald, "run", "-C", work], env=env, capture_output=True, check=True)
    log = open(f"{work}/serve.log", "w")
    serve = subprocess.Popen([herald, "serve", "-C", work, "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=log, env=env)
    port = int(serve.stdout.readline().decode().rsplit(":", 1)[1])
    baseline = rss_mb(serve.pid)
    sockets = []
    for _ in range(clients):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", port))
        s.sendall(f"GET /v1/users/42/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode())
        sockets.append(s)  # and never read
    time.sleep(1)
    connected = rss_mb(serve.pid)
    peak = [connected]
    stop = threading.Event()
    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(serve.pid))
            time.sleep(0.05)
    sampler = threading.Thread(target=sample); sampler.start()
    with open(f"{work}/recipients/inbox/order_shipped.flood.csv", "w") as f:
        f.write("user_id,user,orderId\n" + "".join(f"42,用户42,A{i}\n" for i in range(messages)))
    start = time.time()
    subprocess.run([herald, "run", "-C", work, "--settle", "0s"], env=env, capture_output=True, check=True)
    stored = time.time() - start
    time.sleep(10)  # the poller hands everything out within a second; the rest is the drops settling
    stop.set(); sampler.join()
    after = rss_mb(serve.pid)
    asked = time.time()
    serve.terminate()
    try:
        serve.wait(timeout=60)
    except subprocess.TimeoutExpired:
        serve.kill(); serve.wait()
    exit_seconds = time.time() - asked
    for s in sockets: s.close()
    log.close()
    dropped = sum(1 for line in open(f"{work}/serve.log") if "live client dropped" in line)
    subprocess.run(["rm", "-rf", work])
    return dict(clients=clients, baseline=baseline, connected=connected, peak=peak[0], after=after, stored=stored,
                dropped=dropped, exit_seconds=exit_seconds, status=serve.returncode)

results = [phase(n) for n in phases]
print(f"slow live clients: {messages} 站内信 to one user whose SSE clients never read (receive buffer 4 KB)")
for r in results:
    print(f"  {r['clients']:>4} clients: RSS {r['baseline']:.0f} MB before, {r['connected']:.0f} MB connected, "
          f"peak {r['peak']:.0f} MB during the flood, {r['after']:.0f} MB after; {r['dropped']} dropped as too slow; "
          f"stored in {r['stored']:.1f}s; SIGTERM → exit {r['exit_seconds']:.2f}s (status {r['status']})")
if len(results) > 1:
    a, b = results[0], results[-1]
    growth = lambda r: r["peak"] - r["baseline"]
    print(f"peak growth {b['clients']} vs {a['clients']} clients: {growth(b):.0f} / {growth(a):.0f} MB = "
          f"{growth(b) / max(1, growth(a)):.2f} for {b['clients'] / a['clients']:.0f}× the clients")
sys.exit(0 if all(r["exit_seconds"] < 10 and r["status"] == 0 for r in results) else 1)
