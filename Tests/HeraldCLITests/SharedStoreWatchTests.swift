import Foundation
import HeraldTestSupport
import Testing

/// `herald watch` over PostgreSQL when the database goes away: it waits and goes on, it does not
/// exit, and nothing is lost.
@Suite(.serialized, .tags(.endToEnd), .timeLimit(.minutes(3)), .enabled(if: PostgresTestDatabase.url != nil))
struct SharedStoreWatchTests {
    /// A TCP forwarder to the test database that drops every connection and refuses new ones
    /// while the file `down` exists in its folder, noting each refusal in `refused.log`.
    static let forwarder = """
        import os, socket, sys, threading
        folder, host, port = os.path.dirname(os.path.abspath(__file__)), sys.argv[1], int(sys.argv[2])
        down = os.path.join(folder, "down")
        listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0)); listener.listen(64)
        print("PORT", listener.getsockname()[1], flush=True)
        links = []
        def pump(a, b):
            try:
                while data := a.recv(65536):
                    if os.path.exists(down): break
                    b.sendall(data)
            except OSError:
                pass
            # Shut down before closing: a close alone leaves the other pump blocked in recv on the
            # same socket, which then never sends its FIN, and the database keeps the session (and
            # the worker-name lock it holds) for as long as this forwarder lives.
            for s in (a, b):
                try: s.shutdown(socket.SHUT_RDWR)
                except OSError: pass
                try: s.close()
                except OSError: pass
        def watch_down():
            import time
            while True:
                time.sleep(0.05)
                if os.path.exists(down):
                    for s in list(links):
                        try: s.shutdown(socket.SHUT_RDWR)
                        except OSError: pass
        threading.Thread(target=watch_down, daemon=True).start()
        def serve():
            while True:
                client, _ = listener.accept()
                if os.path.exists(down):
                    client.close()
                    with open(os.path.join(folder, "refused.log"), "a") as log: log.write("refused\\n")
                    continue
                upstream = socket.create_connection((host, port))
                links.extend([client, upstream])
                threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        threading.Thread(target=serve, daemon=True).start()
        sys.stdin.read()
        """

    @Test func aWatcherWaitsForTheDatabaseAndThenSendsWhatWasDropped() throws {
        let database = try #require(URLComponents(string: PostgresTestDatabase.url ?? ""))
        let schema = try PostgresTestDatabase.freshSchema()
        let proxy = try LocalPythonServer(name: "pg-forwarder", script: Self.forwarder,
                                          arguments: [database.host ?? "127.0.0.1", String(database.port ?? 5432)])
        var through = database
        through.port = proxy.port
        let workspace = try TemporaryWorkspace(files: [
            "herald.yaml": """
                inbox: {settle: 0s}
                watch: {interval: 200ms}
                store: {url: "${TEST_DATABASE_URL}", schema: \(schema), pool: 2}
                caps: {sms: [none]}
                sms:
                  channels:
                    aliyun: {transport: file, signature: 云商城}

                """,
            "templates/code.yaml": "category: verification\nsms: {channel: aliyun, api_template_id: SMS_1, content: \"验证码{code}\"}\n",
        ])
        let environment = ["TEST_DATABASE_URL": through.string ?? ""]
        let stderr = workspace.url.appendingPathComponent("watch.stderr")
        let watch = try startHerald(["watch"], in: workspace.url, environment: environment, stderr: stderr)
        defer { if watch.isRunning { watch.terminate() } }
        // Up and cycling: a first file goes through before the database is taken away.
        try workspace.write("recipients/inbox/code.probe.csv", "mobile,code\n13800138001,0000\n")
        let probe = workspace.url.appendingPathComponent("recipients/processed/code.probe.csv")
        #expect(waitUntil(seconds: 60) { FileManager.default.fileExists(atPath: probe.path) }, "the watcher started")

        let down = proxy.directory.appendingPathComponent("down")
        FileManager.default.createFile(atPath: down.path, contents: Data())
        try workspace.write("recipients/inbox/code.a.csv", "mobile,code\n13800138000,1234\n")
        // It keeps trying to reach the database (the forwarder refuses it), and keeps running.
        let refused = proxy.directory.appendingPathComponent("refused.log")
        #expect(waitUntil(seconds: 60) { FileManager.default.fileExists(atPath: refused.path) }, "the watcher tries the database")
        #expect(watch.isRunning, "the watcher waits for the database instead of exiting")
        #expect(FileManager.default.fileExists(atPath: workspace.url.appendingPathComponent("recipients/inbox/code.a.csv").path),
                "nothing is taken while the database is away")

        try FileManager.default.removeItem(at: down)
        let processed = workspace.url.appendingPathComponent("recipients/processed/code.a.csv")
        // postgres-nio backs off while the database is away (up to about a minute between tries):
        // wait for the file with a deadline past that, not a guess at how soon it reconnects.
        _ = waitUntil(seconds: 90) { FileManager.default.fileExists(atPath: processed.path) }
        _ = waitUntil(seconds: 10) { (try? workspace.logEvents().contains { $0["file"] as? String == "code.a.csv" && $0["status"] as? String == "sent" }) == true }
        #expect(watch.terminates(within: .seconds(30)), "SIGTERM ends the watch")
        #expect(watch.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: processed.path), "\((try? String(contentsOf: stderr, encoding: .utf8)) ?? "")")
        let sent = try workspace.logEvents().filter { $0["file"] as? String == "code.a.csv" && $0["status"] as? String == "sent" }
        #expect(sent.count == 1, "the code went once, after the database came back")
    }
}
