import Foundation

/// A message as Python's `email` module (policy=default) reads it: the reference parser the
/// round-trip tests compare against.
public struct ParsedEmail: Decodable, Sendable, Equatable {
    public var subject: String
    public var fromName: String
    public var fromAddress: String
    public var to: String
    public var text: String?
    public var html: String?
    public var defects: [String]
    /// Header names in order, as they appear.
    public var headers: [String]
    public var cc: String?
    public var bcc: String?
    public var listUnsubscribe: String?
    public var listUnsubscribePost: String?
    public var messageID: String?
    public var attachments: [Attachment]

    /// An attached file as Python decodes it.
    public struct Attachment: Decodable, Sendable, Equatable {
        public var filename: String?
        public var contentType: String
        public var sha256: String
    }
}

private let parseScript = #"""
import email, email.policy, hashlib, json, sys
raw = sys.stdin.buffer.read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
def body(kind):
    part = msg.get_body(preferencelist=(kind,))
    return None if part is None else part.get_content()
defects = [type(d).__name__ for d in msg.defects]
for part in msg.walk():
    defects += [type(d).__name__ for d in part.defects]
sender = msg["From"].addresses[0]
print(json.dumps({
    "subject": str(msg["Subject"]),
    "fromName": sender.display_name,
    "fromAddress": sender.addr_spec,
    "to": str(msg["To"]),
    "text": body("plain"),
    "html": body("html"),
    "defects": defects,
    "headers": list(msg.keys()),
    "cc": None if msg["Cc"] is None else str(msg["Cc"]),
    "bcc": None if msg["Bcc"] is None else str(msg["Bcc"]),
    "listUnsubscribe": msg["List-Unsubscribe"],
    "listUnsubscribePost": msg["List-Unsubscribe-Post"],
    "messageID": msg["Message-ID"],
    "attachments": [{"filename": part.get_filename(), "contentType": part.get_content_type(),
                     "sha256": hashlib.sha256(part.get_payload(decode=True)).hexdigest()}
                    for part in msg.iter_attachments()],
}, ensure_ascii=False))
"""#

/// Parses `message` with Python's `email` module.
public func parseWithPython(_ message: Data) throws -> ParsedEmail {
    let result = try runPython(parseScript, input: message)
    guard result.status == 0 else {
        throw PythonError(message: "python3 failed (\(result.status)): \(result.stderr)")
    }
    return try JSONDecoder().decode(ParsedEmail.self, from: Data(result.stdout.utf8))
}

/// A failure running the Python helper.
public struct PythonError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    /// Creates an error.
    public init(message: String) {
        self.message = message
    }
}
