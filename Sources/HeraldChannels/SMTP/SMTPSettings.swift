import Foundation
import HeraldCore

/// How an SMTP connection is protected.
public enum SMTPSecurity: String, Sendable, Hashable, CaseIterable {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587 by default).
    case starttls
    /// TLS from the first byte (port 465 by default).
    case ssl
    /// No TLS at all; allowed only to a loopback host.
    case none

    /// The usual port for this mode.
    public var defaultPort: Int {
        switch self {
        case .starttls: 587
        case .ssl: 465
        case .none: 25
        }
    }
}

/// Where and how a mail account reaches its SMTP server.
public struct SMTPSettings: ProviderSettings, Hashable {
    /// The SMTP server.
    public var host: String
    /// The port (587 for starttls, 465 for ssl, 25 when not given with none).
    public var port: Int
    /// How the session is encrypted.
    public var security: SMTPSecurity
    /// The AUTH user, when the server needs one.
    public var username: String?
    /// The AUTH password, from the environment only.
    public var password: Secret?
    /// Connection and whole-message timeout.
    public var timeout: Duration
    /// A CA bundle for servers with a private or self-signed certificate (path inside the workspace or absolute).
    public var caFile: String?
    /// Open SMTP sessions kept for a batch.
    public var connections: Int
    /// Whether a message whose server took it whole and then gave no reply (a timeout or a
    /// dropped connection after the final dot) may be sent again, here or through the next
    /// account (`resend_unconfirmed`, default false: it may have been delivered, so it is
    /// recorded `failed` with `outcome_unknown` and goes nowhere else).
    public var resendUnconfirmed = false

    /// Creates settings.
    public init(host: String, port: Int? = nil, security: SMTPSecurity = .starttls, username: String? = nil,
                password: Secret? = nil, timeout: Duration = .seconds(30), caFile: String? = nil, connections: Int = 2) {
        self.host = host
        self.port = port ?? security.defaultPort
        self.security = security
        self.username = username
        self.password = password
        self.timeout = timeout
        self.caFile = caFile
        self.connections = connections
    }

    /// Whether `host` is this machine (`security: none` is allowed only then).
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

/// Reads `transport: smtp` mail accounts: `host`, `port`, `security`, `username`/`password`
/// (both or neither), `timeout`, `connections`, `resend_unconfirmed` and `ca_file`.
public struct SMTPSettingsReader: ProviderSettingsReader {
    /// A reader.
    public init() {}

    public var kind: TransportKind { .smtp }
    public var keys: [String] {
        ["host", "port", "security", "username", "password", "connections", "timeout", "ca_file", "resend_unconfirmed"]
    }

    public func read(_ m: SettingsMapping) -> any ProviderSettings {
        let host = m.text("host", required: true) ?? ""
        let security = m.choice("security", default: SMTPSecurity.starttls)
        if security == .none && m.has("host") && !SMTPSettings.isLoopback(host) {
            m.error("security: none sends passwords and mail in clear text; it is allowed only for a loopback host, and \(m.owner) uses '\(host)'; use starttls or ssl", at: "security")
        }
        var settings = SMTPSettings(host: host, port: m.integer("port", range: 1...65535), security: security)
        settings.username = m.text("username")
        settings.password = m.secret("password")
        // Presence, not validity: a literal password is reported once, as literal, not also as missing.
        if (settings.username == nil) != !m.has("password") {
            m.error("\(m.owner) needs both 'username' and 'password' for AUTH, or neither")
        }
        if let value = m.duration("timeout") { settings.timeout = value }
        if let value = m.integer("connections", range: 1...64) { settings.connections = value }
        if let value = m.bool("resend_unconfirmed") { settings.resendUnconfirmed = value }
        if let path = m.text("ca_file") {
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : m.root?.appendingPathComponent(path)
            if let url, !FileManager.default.fileExists(atPath: url.path) {
                m.error("ca_file '\(path)' of \(m.owner) does not exist", at: "ca_file")
            }
            settings.caFile = url?.path ?? path
        }
        return settings
    }
}

extension MailAccount {
    /// The SMTP server of a `transport: smtp` account, as `SMTPSettingsReader` read it.
    public var smtp: SMTPSettings? { provider as? SMTPSettings }
}
