#!/usr/bin/env python3
"""Crash test for `herald run` (acceptance of the reliability issue).

Sends a 20,000-row batch to a real SMTP server (aiosmtpd, in this process, on 127.0.0.1),
has `herald run` killed with SIGKILL at several points, restarts it each time, and checks:
every row arrived at least once; duplicates <= the SMTP connections (messages in flight) per
kill; the ledger and the log agree on what was sent; no spool file is corrupt; the send
journal is empty at the end.

The kills are not timed: each killed run gets HERALD_TEST_KILL_AFTER_SENDS=N, a test hook that
makes herald kill itself right after its Nth send (N drawn from HERALD_CRASH_SEED, printed), so
every kill happens, at a point that a seed reproduces.

Usage: python3 .ci/crash_test.py HERALD_BINARY [ROWS] [KILLS]
"""
import json, os, random, signal, sqlite3, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_counter import CountingSMTPServer

herald = sys.argv[1]
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
kills_wanted = int(sys.argv[3]) if len(sys.argv) > 3 else 5
connections = 4
seed = int(os.environ.get("HERALD_CRASH_SEED", time.time()))
random.seed(seed)
print(f"crash test: seed {seed}")

sink = CountingSMTPServer()
received, port = sink.received, sink.port

work = tempfile.mkdtemp(prefix="herald-crash-")
os.makedirs(f"{work}/templates"); os.makedirs(f"{work}/recipients/inbox")
with open(f"{work}/herald.yaml", "w") as f:
    f.write(f"""log: {{recipients: full}}
mail:
  accounts:
    relay: {{transport: smtp, host: 127.0.0.1, port: {port}, security: none, from: noreply@shop.example.com, connections: {connections}}}
""")
with open(f"{work}/templates/notice.yaml", "w") as f:
    f.write('mail: {account: relay, nickname: 云商城, title: "通知 {name}", text: "{name}，您好。订单 {orderId} 已发货。"}\n')
with open(f"{work}/recipients/inbox/notice.crash.csv.tmp", "w") as f:
    f.write("email,name,orderId\n")
    for i in range(rows):
        f.write(f"user{i}@example.com,用户{i},A{i:06d}\n")
os.rename(f"{work}/recipients/inbox/notice.crash.csv.tmp", f"{work}/recipients/inbox/notice.crash.csv")

kills = 0
runs = 0
started = time.time()
while True:
    runs += 1
    environment = dict(os.environ)
    # At most 3,000 sends a run, so every kill happens before the batch is done.
    after = random.randint(200, min(3000, rows // (kills_wanted + 1))) if kills < kills_wanted else 0
    if after:
        environment["HERALD_TEST_KILL_AFTER_SENDS"] = str(after)
    process = subprocess.Popen([herald, "run", "-C", work, "--settle", "0s"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=environment)
    output = process.communicate(timeout=600)[0].decode()
    if after and process.returncode == -signal.SIGKILL:
        kills += 1
        print(f"run {runs}: killed itself after {after} sends ({sum(received.values())} messages received so far)")
        continue
    print(f"run {runs}: exit {process.returncode}")
    if not os.path.exists(f"{work}/recipients/inbox/notice.crash.csv"):
        break
    if runs > kills_wanted + 5:
        print(output)
        sys.exit("herald never finished the batch")
sink.stop()

failures = []
missing = [i for i in range(rows) if received[f"user{i}@example.com"] == 0]
duplicates = sum(received.values()) - len(received)
if missing:
    failures.append(f"{len(missing)} rows never arrived (first: user{missing[0]}@example.com)")
if kills < kills_wanted:
    failures.append(f"only {kills} of {kills_wanted} kills happened")
if duplicates > connections * kills:
    failures.append(f"{duplicates} duplicates, more than {connections} connections x {kills} kills")

db = sqlite3.connect(f"{work}/outbox/herald.sqlite")
ledger_sent = {row[0] for row in db.execute("SELECT message_id FROM ledger WHERE status = 'sent'")}
log_sent = set()
for name in sorted(n for n in os.listdir(f"{work}/outbox/log") if n.endswith(".jsonl")):
    with open(f"{work}/outbox/log/{name}") as f:
        for number, line in enumerate(f, 1):
            try:
                event = json.loads(line)
            except ValueError:
                failures.append(f"log {name}:{number} is not JSON: {line[:80]!r}")
                continue
            if event.get("status") == "sent":
                log_sent.add(event["message_id"])
if ledger_sent != log_sent:
    failures.append(f"ledger and log disagree: {len(ledger_sent - log_sent)} only in the ledger, {len(log_sent - ledger_sent)} only in the log")
if len(ledger_sent) != rows:
    failures.append(f"the ledger holds {len(ledger_sent)} sent messages, not {rows}")
spool = f"{work}/outbox/spool"
for folder in [spool, f"{spool}/dead"]:
    for name in os.listdir(folder) if os.path.isdir(folder) else []:
        if name.endswith(".json"):
            try:
                json.load(open(f"{folder}/{name}"))
            except ValueError:
                failures.append(f"corrupt spool file {folder}/{name}")
journal = f"{work}/outbox/journal"
left = [n for n in os.listdir(journal)] if os.path.isdir(journal) else []
if left:
    failures.append(f"{len(left)} journal segments left behind")

print(f"crash test: {rows} rows, {kills} kills, {runs} runs, {time.time() - started:.1f}s; "
      f"received {sum(received.values())} messages for {len(received)} recipients, {duplicates} duplicates "
      f"(allowed {connections * kills}); ledger sent {len(ledger_sent)}, log sent {len(log_sent)}")
for failure in failures:
    print("FAIL:", failure)
if failures:
    print(f"kept the workspace for inspection: {work}")
    sys.exit(1)
subprocess.run(["rm", "-rf", work])
print("crash test: ok")
