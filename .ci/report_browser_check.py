#!/usr/bin/env python3
"""Opens an HTML report in headless Chromium the way a phone would, and checks it.

    python3 .ci/report_browser_check.py reports/2026-11-27/report.html shot.png [--width 390]

Talks the Chrome DevTools Protocol over a WebSocket (standard library only): collects console
messages, uncaught exceptions and log entries while the page loads, measures whether anything
is wider than the screen, and saves a full-page screenshot. Exits 1 when the page logged an
error or a warning, scrolls sideways, or holds no <svg> chart.
"""
import argparse, base64, json, os, shutil, socket, struct, subprocess, sys, tempfile, time, urllib.request


class WebSocket:
    """Just enough of RFC 6455 for DevTools: masked text frames out, frames in."""

    def __init__(self, url):
        assert url.startswith("ws://")
        host_port, path = url[5:].split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(4096)
        head, self.buffer = response.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(f"websocket handshake failed: {head[:200]!r}")

    def send(self, text):
        data = text.encode()
        header = bytes([0x81])
        if len(data) < 126:
            header += bytes([0x80 | len(data)])
        elif len(data) < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(data))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(data))
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, count):
        while len(self.buffer) < count:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def receive(self):
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            opcode = first & 0x0F
            if opcode == 0x8:
                raise RuntimeError("DevTools closed the connection")
            if opcode in (0x1, 0x0):
                message += payload
            if first & 0x80 and opcode in (0x1, 0x0):
                return json.loads(message)


class DevTools:
    def __init__(self, url):
        self.ws = WebSocket(url)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = self.ws.receive()
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self.ws.receive())
        raise RuntimeError(f"timed out waiting for {method}")


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    sys.exit("report_browser_check: chromium is not installed (apt-get install -y chromium fonts-noto-cjk)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("html")
    parser.add_argument("screenshot")
    parser.add_argument("--width", type=int, default=390)
    parser.add_argument("--height", type=int, default=844)
    args = parser.parse_args()

    profile = tempfile.mkdtemp(prefix="herald-chromium-")
    browser = subprocess.Popen(
        [find_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 60
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.time() > deadline or browser.poll() is not None:
                sys.exit("report_browser_check: chromium did not start")
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            tools.call(f"{domain}.enable")
        tools.call("Emulation.setDeviceMetricsOverride", width=args.width, height=args.height,
                   deviceScaleFactor=2, mobile=True)
        tools.events.clear()
        tools.call("Page.navigate", url="file://" + os.path.abspath(args.html))
        tools.wait_for("Page.loadEventFired")
        time.sleep(0.3)
        facts = tools.call("Runtime.evaluate", returnByValue=True, expression="""({
            scrollWidth: document.documentElement.scrollWidth,
            innerWidth: window.innerWidth,
            height: document.documentElement.scrollHeight,
            charts: document.querySelectorAll('svg').length,
            tables: document.querySelectorAll('table').length,
            title: document.title,
            lang: document.documentElement.lang})""")["result"]["value"]
        problems = []
        for event in tools.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                problems.append("console " + params["type"] + ": " + " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                problems.append("exception: " + params["exceptionDetails"].get("text", ""))
            elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
                problems.append("log " + params["entry"]["level"] + ": " + params["entry"]["text"])
        if facts["scrollWidth"] > facts["innerWidth"]:
            problems.append(f"the page is {facts['scrollWidth']}px wide on a {facts['innerWidth']}px screen (scrolls sideways)")
        if facts["charts"] == 0:
            problems.append("no <svg> chart on the page")
        height = min(facts["height"], 16000)
        tools.call("Emulation.setDeviceMetricsOverride", width=args.width, height=height, deviceScaleFactor=2, mobile=True)
        time.sleep(0.2)
        shot = tools.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        with open(args.screenshot, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        print(f"report_browser_check: {args.html}: title {facts['title']!r}, lang {facts['lang']}, "
              f"{facts['charts']} charts, {facts['tables']} tables, {facts['innerWidth']}x{facts['height']} css px, "
              f"{len(problems)} problems; screenshot {args.screenshot}")
        for problem in problems:
            print("  " + problem)
        return 1 if problems else 0
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
