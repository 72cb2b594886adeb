#!/usr/bin/env python3
"""The live 站内信 demo page (`/v1/demo`) in headless Chromium, against a real `herald serve`.

    python3 .ci/demo_browser_check.py HERALD_BINARY

The browser's own EventSource connects; the badge must show the user's unread count, then a
message that `herald run` stores in another process must reach the page (badge and list) within
a few seconds, with no console error. Exits 1 otherwise.
"""
import json, os, subprocess, sys, tempfile, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_browser_check import DevTools, find_chromium

herald = sys.argv[1]
work = tempfile.mkdtemp(prefix="herald-demo-")
os.makedirs(f"{work}/templates"); os.makedirs(f"{work}/recipients/inbox")
token = "demo-token-0123456789abcdef"
with open(f"{work}/herald.yaml", "w") as f:
    f.write('serve:\n  clients:\n    web: {token: "${DEMO_TOKEN}", tenants: [0]}\n')
with open(f"{work}/templates/order_shipped.yaml", "w") as f:
    f.write('site: {nickname: 商城助手, content: "您的订单 {orderId} 已发货"}\n')
env = dict(os.environ, DEMO_TOKEN=token)
def drop(name, order):
    with open(f"{work}/recipients/inbox/order_shipped.{name}.csv", "w") as f:
        f.write(f"user_id,orderId\n1,{order}\n")
    subprocess.run([herald, "run", "-C", work, "--settle", "0s"], env=env, capture_output=True, check=True)
drop("first", "A1")
serve = subprocess.Popen([herald, "serve", "-C", work, "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
port = int(serve.stdout.readline().decode().rsplit(":", 1)[1])
profile = tempfile.mkdtemp(prefix="herald-chromium-")
browser = subprocess.Popen([find_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
failures = []
try:
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.time() + 60
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        if time.time() > deadline: sys.exit("demo_browser_check: chromium did not start")
        time.sleep(0.1)
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{open(port_file).read().split()[0]}/json/list"))
    tools = DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
    for domain in ("Page", "Runtime", "Log"): tools.call(f"{domain}.enable")
    tools.call("Page.navigate", url=f"http://127.0.0.1:{port}/v1/demo?user=1&token={token}")
    tools.wait_for("Page.loadEventFired")
    def page():
        return tools.call("Runtime.evaluate", returnByValue=True, expression="""({
            badge: document.getElementById("badge").textContent,
            state: document.getElementById("state").textContent,
            items: [...document.querySelectorAll("#messages li")].map(li => li.textContent)})""")["result"]["value"]
    def wait(check, seconds):
        end = time.time() + seconds
        while time.time() < end:
            facts = page()
            if check(facts): return facts
            time.sleep(0.1)
        return page()
    first = wait(lambda f: f["badge"] == "1", 5)
    if first["badge"] != "1" or first["state"] != "live for user 1":
        failures.append(f"after loading: {first}")
    started = time.time()
    drop("second", "B2")
    second = wait(lambda f: f["badge"] == "2" and f["items"], 5)
    took = time.time() - started
    if second["badge"] != "2" or second["items"] != ["您的订单 B2 已发货"]:
        failures.append(f"after a message from herald run: {second}")
    problems = [e for e in tools.events if e.get("method") in ("Runtime.exceptionThrown",)
                or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "warning"))
                or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] in ("error", "warning"))]
    failures += [f"console: {json.dumps(p)[:200]}" for p in problems]
    print(f"demo_browser_check: badge {first['badge']} on load, {second['badge']} with '{second['items'][:1]}' "
          f"{took:.2f}s after herald run started; {len(problems)} console problems")
finally:
    browser.terminate(); browser.wait()
    serve.terminate(); serve.wait()
    subprocess.run(["rm", "-rf", work, profile])
for failure in failures: print("FAIL:", failure)
sys.exit(1 if failures else 0)
