import Foundation

/// A real SMTP server on 127.0.0.1 for tests: Python's aiosmtpd (installed by `.ci/test`),
/// started per test with the behaviour it needs, stopped when the value goes away.
///
/// It saves each message it accepts as `NNNNN.eml` with its envelope, and counts connections.
///
/// ```swift
/// let server = try SMTPTestServer()
/// // send to 127.0.0.1:server.port …
/// server.stats.connections   // 1
/// ```
public final class SMTPTestServer: @unchecked Sendable {
    /// The port it listens on.
    public var port: Int { server.port }
    /// Where messages and stats land.
    public var directory: URL { server.directory }
    private let server: LocalPythonServer

    /// What the server has seen.
    public struct Stats: Decodable, Sendable {
        public var connections: Int
        public var messages: Int
        public var auth: [String]
    }

    /// One accepted message: the envelope and the raw bytes.
    public struct Received: Sendable {
        public var mailFrom: String
        public var recipients: [String]
        public var data: Data
    }

    /// Starts a server. `rcptReply` / `dataReply` make it answer every RCPT / DATA with that
    /// line (`451 4.3.0 Try again later`); `auth` requires `user:password`; `starttls`
    /// (certificate, key) requires STARTTLS; `implicitTLS` speaks TLS from the first byte.
    /// `failFirst` answers `451` to the first K RCPTs of each recipient address, then accepts.
    /// `dropAfterData` keeps each message and then closes the connection instead of answering
    /// the final dot (the ambiguous failure: the server has the message, the client never hears).
    public init(rcptReply: String? = nil, dataReply: String? = nil, auth: String? = nil, failFirst: Int? = nil,
                starttls: (certificate: URL, key: URL)? = nil, implicitTLS: (certificate: URL, key: URL)? = nil,
                dropAfterData: Bool = false) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-smtp-\(UUID().uuidString)")
        var arguments = ["--dir", directory.path]
        if let rcptReply { arguments += ["--rcpt-reply", rcptReply] }
        if let dataReply { arguments += ["--data-reply", dataReply] }
        if let auth { arguments += ["--auth", auth] }
        if let failFirst { arguments += ["--fail-first", String(failFirst)] }
        if dropAfterData { arguments.append("--drop-after-data") }
        if let starttls { arguments += ["--starttls", starttls.certificate.path, starttls.key.path] }
        if let implicitTLS { arguments += ["--implicit-tls", implicitTLS.certificate.path, implicitTLS.key.path] }
        server = try LocalPythonServer(name: "smtp", script: Self.script, arguments: arguments, directory: directory)
    }

    /// Stops the server and waits for it.
    public func stop() {
        server.stop()
    }

    /// Connections and messages so far.
    public var stats: Stats {
        let url = directory.appendingPathComponent("stats.json")
        guard let data = try? Data(contentsOf: url), let stats = try? JSONDecoder().decode(Stats.self, from: data) else {
            return Stats(connections: 0, messages: 0, auth: [])
        }
        return stats
    }

    /// Every accepted message in arrival order.
    public func received() throws -> [Received] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".eml") }.sorted()
        return try names.map { name in
            let data = try Data(contentsOf: directory.appendingPathComponent(name))
            let envelopeURL = directory.appendingPathComponent(name.replacingOccurrences(of: ".eml", with: ".json"))
            let envelope = try JSONSerialization.jsonObject(with: Data(contentsOf: envelopeURL)) as? [String: Any] ?? [:]
            return Received(mailFrom: envelope["mail_from"] as? String ?? "", recipients: envelope["rcpt_tos"] as? [String] ?? [],
                            data: data)
        }
    }

    /// A self-signed certificate for 127.0.0.1 and localhost, made with openssl in `folder`.
    public static func makeCertificate(in folder: URL) throws -> (certificate: URL, key: URL) {
        let certificate = folder.appendingPathComponent("cert.pem"), key = folder.appendingPathComponent("key.pem")
        let result = try runProcess(URL(fileURLWithPath: "/usr/bin/env"), [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", key.path, "-out", certificate.path,
        ])
        guard result.status == 0 else { throw PythonError(message: "openssl failed: \(result.stderr)") }
        return (certificate, key)
    }

    static let script = #"""
import argparse, json, os, socket, ssl, sys, threading
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--rcpt-reply")
parser.add_argument("--data-reply")
parser.add_argument("--auth")
parser.add_argument("--fail-first", type=int, default=0)
parser.add_argument("--drop-after-data", action="store_true")
parser.add_argument("--starttls", nargs=2)
parser.add_argument("--implicit-tls", nargs=2)
args = parser.parse_args()

lock = threading.Lock()
stats = {"connections": 0, "messages": 0, "auth": []}
tries = {}

def save():
    tmp = os.path.join(args.dir, "stats.json.tmp")
    with open(tmp, "w") as f:
        json.dump(stats, f)
    os.replace(tmp, os.path.join(args.dir, "stats.json"))

class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if args.rcpt_reply:
            return args.rcpt_reply
        if args.fail_first:
            with lock:
                tries[address] = tries.get(address, 0) + 1
                if tries[address] <= args.fail_first:
                    return "451 4.7.1 Greylisted, try again later (attempt %d)" % tries[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if args.data_reply:
            return args.data_reply
        with lock:
            stats["messages"] += 1
            number = stats["messages"]
            base = os.path.join(args.dir, "%05d" % number)
            with open(base + ".json", "w") as f:
                json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, f)
            with open(base + ".eml", "wb") as f:
                f.write(envelope.original_content)
            save()
        if args.drop_after_data:
            server.transport.close()  # kept the message; the client never hears so
        return "250 2.0.0 Ok: queued as %05d" % number

class CountingSMTP(SMTP):
    def connection_made(self, transport):
        with lock:
            stats["connections"] += 1
            save()
        super().connection_made(transport)

class CountingController(Controller):
    def factory(self):
        return CountingSMTP(self.handler, **self.SMTP_kwargs)

def authenticator(server, session, envelope, mechanism, auth_data):
    user, password = args.auth.split(":", 1)
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    with lock:
        stats["auth"].append(mechanism + (":ok" if ok else ":denied"))
        save()
    return AuthResult(success=ok, handled=False)

def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context

kwargs = {}
if args.auth:
    kwargs.update(authenticator=authenticator, auth_require_tls=False)
if args.starttls:
    kwargs.update(tls_context=tls_context(*args.starttls), require_starttls=True)
ssl_context = tls_context(*args.implicit_tls) if args.implicit_tls else None
# Tests run in parallel: another server may take the free port between the probe and the bind.
for attempt in range(20):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = CountingController(Handler(), hostname="127.0.0.1", port=port, ssl_context=ssl_context, **kwargs)
    try:
        controller.start()
        break
    except Exception:
        if attempt == 19:
            raise
with lock:
    stats["connections"] = 0  # start() made one connection to check the server is up
    save()
print("PORT %d" % port, flush=True)
sys.stdin.read()
controller.stop()
"""#
}
