#!/usr/bin/env python3
"""Several workers on one PostgreSQL store (acceptance of the PostgreSQL issues).

Three `herald watch` processes in three workspaces share one database (a schema of their own in
HERALD_TEST_DATABASE_URL). A ROWS-row mail batch is dropped into the first workspace only; mail
goes over SMTP to a sink on 127.0.0.1 (aiosmtpd, in this process). The second watcher is killed
with SIGKILL at a chosen point: it runs with HERALD_TEST_KILL_AFTER_SENDS=N, a test hook that makes
it kill itself right after its Nth send (no timing luck). MODE says what happens next:

- restart: it is restarted half a second later (and killed again the same way, KILLS times);
  duplicates <= its SMTP connections per kill (its messages in flight).
- lost: it is never restarted, as if its machine were gone with its send journal (KILLS is 1);
  its chunk waits for the end of its lease; duplicates <= 2 per connection.

Checks: every row arrived; duplicates within the bound; the ledger says every message sent;
`herald report --logs` over the three logs gives the ledger's totals; every watcher sent a share;
every log line is JSON and names its worker.

WORKERS_TEST_SIGNAL_KILL=1 kills by signal when the sink has received a share instead (for a
binary without the hook: how the figures "before" were taken).

Usage: python3 .ci/workers_test.py HERALD_BINARY [ROWS] [KILLS] [restart|lost]
"""
import json, os, random, re, signal, subprocess, sys, tempfile, time, uuid
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_counter import CountingSMTPServer

herald = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 30000
kills_wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 2
mode = sys.argv[4] if len(sys.argv) > 4 else "restart"
if mode not in ("restart", "lost"):
    sys.exit(f"MODE is restart or lost, not {mode!r}")
if mode == "lost":
    kills_wanted = 1
by_signal = os.environ.get("WORKERS_TEST_SIGNAL_KILL") == "1"
database = os.environ.get("HERALD_TEST_DATABASE_URL")
if not database:
    sys.exit("HERALD_TEST_DATABASE_URL is not set; .ci/test starts PostgreSQL and sets it")
connections = 2
workers = ["w1", "w2", "w3"]
victim = "w2"
# The victim kills itself after this many sends: past its first chunk (512 rows), mid-way through the next.
kill_after = int(os.environ.get("WORKERS_TEST_KILL_AFTER", "700"))
per_kill = connections if mode == "restart" else 2 * connections
random.seed(int(os.environ.get("HERALD_CRASH_SEED", time.time())))

sink = CountingSMTPServer()
received, port = sink.received, sink.port

schema = "workers_" + uuid.uuid4().hex[:12]
def psql(sql):
    return subprocess.run(["psql", database, "-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()
psql(f"CREATE SCHEMA {schema}")

work = tempfile.mkdtemp(prefix="herald-workers-")
config = f"""log: {{recipients: full}}
inbox: {{settle: 0s}}
watch: {{interval: 200ms}}
store: {{url: "${{HERALD_DATABASE_URL}}", schema: {schema}, pool: 4}}
worker: {{name: "${{HERALD_WORKER}}", lease: 10s}}
mail:
  accounts:
    relay: {{transport: smtp, host: 127.0.0.1, port: {port}, security: none, from: noreply@shop.example.com, connections: {connections}}}
"""
for worker in workers:
    os.makedirs(f"{work}/{worker}/templates"); os.makedirs(f"{work}/{worker}/recipients/inbox")
    with open(f"{work}/{worker}/herald.yaml", "w") as f:
        f.write(config)
    with open(f"{work}/{worker}/templates/notice.yaml", "w") as f:
        f.write('mail: {account: relay, nickname: 云商城, title: "通知 {name}", text: "{name}，您好。订单 {orderId} 已发货。"}\n')

processes = {}
kills = 0
def start(worker):
    environment = dict(os.environ, HERALD_DATABASE_URL=database, HERALD_WORKER=worker)
    if worker == victim and kills < kills_wanted and not by_signal:
        environment["HERALD_TEST_KILL_AFTER_SENDS"] = str(kill_after)
    log = open(f"{work}/{worker}.out", "ab")
    processes[worker] = subprocess.Popen([herald, "watch", "-C", f"{work}/{worker}"], stdout=log, stderr=subprocess.STDOUT, env=environment)

for worker in workers:
    start(worker)
time.sleep(1.5)  # migrations done, every watcher idle

inbox = f"{work}/w1/recipients/inbox"
with open(f"{inbox}/notice.workers.csv.tmp", "w") as f:
    f.write("email,name,orderId\n")
    for i in range(rows):
        f.write(f"user{i}@example.com,用户{i},A{i:06d}\n")
os.rename(f"{inbox}/notice.workers.csv.tmp", f"{inbox}/notice.workers.csv")
started = time.time()

def sent_in_ledger():
    return int(psql(f"SELECT count(*) FROM {schema}.herald_ledger WHERE status = 'sent'") or 0)

lost = set()
deadline = started + 600
while time.time() < deadline:
    time.sleep(0.1)
    total = sum(received.values())
    if by_signal and kills < kills_wanted and total > rows * (kills + 1) / (kills_wanted + 2) and processes[victim].poll() is None:
        processes[victim].send_signal(signal.SIGKILL)
    if kills < kills_wanted and processes[victim].poll() is not None:
        code = processes[victim].returncode
        if code != -signal.SIGKILL:
            sys.exit(f"{victim} exited {code} before it was killed; see {work}/{victim}.out")
        kills += 1
        print(f"{victim} was killed with SIGKILL ({total} messages received so far; mode {mode})")
        if mode == "lost":
            lost.add(victim)
        else:
            time.sleep(0.5)
            start(victim)
    if kills == kills_wanted and not os.path.exists(f"{inbox}/notice.workers.csv") and sent_in_ledger() >= rows:
        if psql(f"SELECT count(*) FROM {schema}.herald_queue") == "0":
            break
elapsed = time.time() - started
time.sleep(0.5)
running = {worker: process for worker, process in processes.items() if worker not in lost}
for worker, process in running.items():
    process.send_signal(signal.SIGTERM)
exits = {worker: process.wait(timeout=60) for worker, process in running.items()}
sink.stop()

failures = []
missing = [i for i in range(rows) if received[f"user{i}@example.com"] == 0]
duplicates = sum(received.values()) - len(received)
if missing:
    failures.append(f"{len(missing)} rows never arrived (first: user{missing[0]}@example.com)")
if duplicates > per_kill * kills:
    failures.append(f"{duplicates} duplicates, more than {per_kill} x {kills} kills ({connections} connections, mode {mode})")
if kills < kills_wanted:
    failures.append(f"only {kills} of {kills_wanted} kills happened before the batch was done")
for worker, code in exits.items():
    if code != 0:
        failures.append(f"{worker} exited {code} on SIGTERM")

ledger_sent = sent_in_ledger()
if ledger_sent != rows:
    failures.append(f"the ledger holds {ledger_sent} sent messages, not {rows}")

shares = {}
for worker in workers:
    shares[worker] = 0
    folder = f"{work}/{worker}/outbox/log"
    for name in [n for n in os.listdir(folder) if n.endswith(".jsonl")] if os.path.isdir(folder) else []:
        with open(f"{folder}/{name}") as f:
            for number, line in enumerate(f, 1):
                try:
                    event = json.loads(line)
                except ValueError:
                    failures.append(f"{worker} log {name}:{number} is not JSON: {line[:80]!r}")
                    continue
                if event.get("worker") != worker:
                    failures.append(f"{worker} log {name}:{number} names worker {event.get('worker')!r}")
                if event.get("status") == "sent" and event.get("event") is None:
                    shares[worker] += 1
for worker, count in shares.items():
    if count == 0 and worker not in lost:
        failures.append(f"{worker} sent nothing")

report = subprocess.run([herald, "report", "-C", f"{work}/w1", "--date", "today", "--format", "csv"]
                        + [arg for worker in workers for arg in ("--logs", f"{work}/{worker}/outbox/log")],
                        capture_output=True, text=True, env=dict(os.environ, HERALD_DATABASE_URL=database, HERALD_WORKER="report"))
match = re.search(r"(\d+) messages, (\d+) sent", report.stdout)
if report.returncode != 0 or not match:
    failures.append(f"herald report failed ({report.returncode}): {report.stdout} {report.stderr}")
elif (int(match.group(1)), int(match.group(2))) != (rows, ledger_sent):
    failures.append(f"the report counts {match.group(1)} messages, {match.group(2)} sent; the ledger {rows} and {ledger_sent}")

print(f"workers test ({mode}): {rows} rows, 3 watchers, {kills} kills of {victim}, {elapsed:.1f}s to send all "
      f"({rows / elapsed:.0f} rows/s); received {sum(received.values())} messages for {len(received)} recipients, "
      f"{duplicates} duplicates (allowed {per_kill * kills}); shares {shares}; ledger sent {ledger_sent}; "
      f"report: {match.group(0) if match else '-'}")
for failure in failures:
    print("FAIL:", failure)
if failures:
    print(f"kept the workspaces for inspection: {work} (schema {schema})")
    sys.exit(1)
psql(f"DROP SCHEMA {schema} CASCADE")
subprocess.run(["rm", "-rf", work])
print("workers test: ok")
