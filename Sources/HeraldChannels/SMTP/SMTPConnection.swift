import CCurl
import CLibcurl
import Foundation
import HeraldCore

/// What the server (or libcurl) said about one message.
public struct SMTPReply: Sendable, Hashable {
    /// libcurl's result (`CURLE_OK` is 0).
    public var curlCode: Int
    /// The last SMTP reply code, 0 when the server never answered.
    public var responseCode: Int
    /// The last reply's text, e.g. `451 4.3.0 Try again later`.
    public var replyText: String
    /// libcurl's own explanation, for connection-level failures.
    public var errorText: String
    /// Whether libcurl read the whole message to send it (the final dot follows it).
    public var uploadComplete = false

    /// Creates a reply.
    public init(curlCode: Int, responseCode: Int, replyText: String = "", errorText: String = "") {
        self.curlCode = curlCode
        self.responseCode = responseCode
        self.replyText = replyText
        self.errorText = errorText
    }

    /// A permanent reply saying the mailbox does not exist (550/551/553 with words to that
    /// effect), as opposed to a policy or content refusal.
    static func isHardBounce(code: Int, text: String) -> Bool {
        guard [550, 551, 553].contains(code) else { return false }
        let text = text.lowercased()
        return ["user unknown", "no such user", "does not exist", "unknown user", "mailbox unavailable", "not found",
                "invalid recipient", "recipient address rejected"].contains { text.contains($0) }
    }

    /// What the pipeline makes of it: 4xx, connection failures and timeouts are transient
    /// (retry later); 5xx and TLS or login problems that retrying will not fix are permanent.
    public var outcome: DeliveryOutcome {
        if curlCode == Int(CURLE_OK.rawValue) { return .sent() }
        let text = replyText.isEmpty ? errorText : replyText
        // The whole message went and no reply to it came (the last reply is DATA's 354, or none):
        // the server may have taken it. Not a failure another attempt may follow.
        if uploadComplete && !(400..<600).contains(responseCode) {
            return .permanent(code: .outcomeUnknown,
                              "the server took the whole message and then gave no reply (\(errorText)); it may have been delivered, "
                              + "so it is not sent again or through another account (resend_unconfirmed: true allows that)")
        }
        if (400..<500).contains(responseCode) { return .transient(code: FailureCode(String(responseCode)), text) }
        if (500..<600).contains(responseCode) {
            var outcome = DeliveryOutcome.permanent(code: FailureCode(String(responseCode)), text)
            outcome.isHardBounce = Self.isHardBounce(code: responseCode, text: text)
            return outcome
        }
        let code = "curl_\(curlCode)"
        switch curlCode {
        case Int(CURLE_LOGIN_DENIED.rawValue), Int(CURLE_PEER_FAILED_VERIFICATION.rawValue),
             Int(CURLE_SSL_CACERT_BADFILE.rawValue), Int(CURLE_USE_SSL_FAILED.rawValue),
             Int(CURLE_SSL_CERTPROBLEM.rawValue), Int(CURLE_UNSUPPORTED_PROTOCOL.rawValue),
             Int(CURLE_URL_MALFORMAT.rawValue):
            return .permanent(code: FailureCode(code), errorText)
        default:
            return .transient(code: FailureCode(code), errorText)
        }
    }
}

/// One SMTP session: a libcurl easy handle that keeps its connection open between messages,
/// driven from its own serial queue so a blocking transfer never holds a Swift concurrency thread.
///
/// `@unchecked Sendable`: a libcurl handle and its buffers, used only from the connection's own serial queue.
final class SMTPConnection: @unchecked Sendable {
    private static let curlReady: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    private let handle: UnsafeMutableRawPointer
    private let queue: DispatchQueue
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    // libcurl keeps pointers to option strings only until the next setopt; holding them here
    // documents that they outlive every transfer.
    private let url: String
    private let settings: SMTPSettings

    /// Whether its account may send again a message whose reply was lost (`resend_unconfirmed`).
    var resendsUnconfirmed: Bool { settings.resendUnconfirmed }

    init?(settings: SMTPSettings, helo: String, label: String) {
        guard Self.curlReady, let handle = curl_easy_init() else { return nil }
        self.handle = handle
        self.settings = settings
        queue = DispatchQueue(label: "herald.smtp.\(label)")
        let scheme = settings.security == .ssl ? "smtps" : "smtp"
        let host = settings.host.contains(":") && !settings.host.hasPrefix("[") ? "[\(settings.host)]" : settings.host
        url = "\(scheme)://\(host):\(settings.port)/\(helo)"
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        configure()
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    private func configure() {
        ccurl_setopt_string(handle, CURLOPT_URL, url)
        ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
        ccurl_setopt_long(handle, CURLOPT_UPLOAD, 1)
        ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
        ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        let seconds = max(1, Int(settings.timeout.components.seconds))
        ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, seconds)
        ccurl_setopt_long(handle, CURLOPT_TIMEOUT, seconds)
        switch settings.security {
        case .starttls: ccurl_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue))
        case .ssl, .none: ccurl_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_NONE.rawValue))
        }
        ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1)
        ccurl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile = settings.caFile { ccurl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
        if let username = settings.username, let password = settings.password {
            ccurl_setopt_string(handle, CURLOPT_USERNAME, username)
            ccurl_setopt_string(handle, CURLOPT_PASSWORD, password.value)
        }
        ccurl_setopt_callback(handle, CURLOPT_READFUNCTION, smtpReadCallback)
        ccurl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, smtpHeaderCallback)
    }

    /// Runs `work` on this connection's thread and waits for it.
    func run(_ work: @escaping @Sendable () -> Void) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                work()
                continuation.resume()
            }
        }
    }

    /// Sends `message` from `from` to every address in `recipients` (to, cc and bcc).
    /// Blocks: call it from `run`.
    func perform(from: String, recipients: [String], message: Data) -> SMTPReply {
        let upload = UploadSource(message)
        let responses = ResponseCollector()
        var list: UnsafeMutablePointer<curl_slist>?
        for recipient in recipients { list = curl_slist_append(list, "<\(recipient)>") }
        defer { curl_slist_free_all(list) }
        errorBuffer[0] = 0
        ccurl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(from)>")
        ccurl_setopt_slist(handle, CURLOPT_MAIL_RCPT, list)
        ccurl_setopt_long(handle, CURLOPT_INFILESIZE, message.count)
        let result = withExtendedLifetime((upload, responses)) { () -> CURLcode in
            ccurl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(upload).toOpaque())
            ccurl_setopt_pointer(handle, CURLOPT_HEADERDATA, Unmanaged.passUnretained(responses).toOpaque())
            return curl_easy_perform(handle)
        }
        var response = 0
        ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &response)
        let detail = String(cString: errorBuffer)
        let errorText = detail.isEmpty ? String(cString: curl_easy_strerror(result)) : detail
        var reply = SMTPReply(curlCode: Int(result.rawValue), responseCode: response, replyText: responses.reply(code: response),
                              errorText: errorText)
        reply.uploadComplete = upload.offset == message.count
        return reply
    }
}

/// Feeds the message to libcurl's read callback.
private final class UploadSource {
    let data: Data
    var offset = 0

    init(_ data: Data) {
        self.data = data
    }

    func read(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        let count = min(max, data.count - offset)
        guard count > 0 else { return 0 }
        data.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            UnsafeMutableRawPointer(buffer).copyMemory(from: base.advanced(by: offset), byteCount: count)
        }
        offset += count
        return count
    }
}

/// Keeps the server's reply lines (libcurl passes SMTP responses to the header callback).
private final class ResponseCollector {
    private var lines: [String] = []

    func add(_ line: String) {
        var trimmed = Substring(line)
        while let last = trimmed.last, last == "\r\n" || last == "\n" || last == "\r" || last == " " { trimmed.removeLast() }
        guard !trimmed.isEmpty else { return }
        lines.append(String(trimmed))
        if lines.count > 32 { lines.removeFirst(lines.count - 32) }
    }

    /// The last reply with `code` (libcurl's CURLINFO_RESPONSE_CODE), multi-line replies
    /// joined: `550 5.1.1 <x@y>: user unknown`. After a failure libcurl sends QUIT, so the very
    /// last reply is usually `221 Bye`, not the one that explains.
    func reply(code: Int) -> String {
        let prefix = String(code)
        guard code > 0, let end = lines.lastIndex(where: { $0.hasPrefix(prefix) }) else { return "" }
        var start = end
        while start > lines.startIndex, lines[start - 1].hasPrefix(prefix + "-") { start -= 1 }
        return lines[start...end].joined(separator: " ")
    }
}

private let smtpReadCallback: ccurl_data_callback = { buffer, size, count, context in
    guard let buffer, let context else { return 0 }
    return Unmanaged<UploadSource>.fromOpaque(context).takeUnretainedValue().read(into: buffer, max: size * count)
}

private let smtpHeaderCallback: ccurl_data_callback = { buffer, size, count, context in
    let length = size * count
    guard let buffer, let context else { return length }
    let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
    Unmanaged<ResponseCollector>.fromOpaque(context).takeUnretainedValue().add(line)
    return length
}
