import Foundation
import HeraldCore

/// Writes each message where it can be read instead of sending it:
/// `outbox/sent/<channel>/<batch>/<message-id>.eml` for mail (the exact RFC 5322 message),
/// `.json` for the other channels. The provider id is the file's path inside the workspace.
public struct FileTransport: Transport {
    /// The name in logs.
    public let name = "file"
    /// How many messages it may have in flight at once.
    public let concurrency: Int
    /// The workspace root.
    public let root: URL
    /// Mail accounts, for the sender address.
    public let configuration: Configuration

    /// Creates a file transport writing under `root/outbox/sent/`.
    public init(root: URL, configuration: Configuration, concurrency: Int = 4) {
        self.root = root
        self.configuration = configuration
        self.concurrency = concurrency
    }

    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        let folder = "\(WorkspacePaths.sentFolder)/\(envelope.channel.rawValue)/\(Self.folderName(envelope.batch.file))"
        do {
            let (data, ext) = try document(envelope)
            let relative = "\(folder)/\(envelope.id.value).\(ext)"
            let url = root.appendingPathComponent(relative)
            // Temporaries go to one folder (not Foundation's `.dat.nosync*` beside each file), so
            // what a killed run left behind is found and removed in one place (`removeTemporaries`).
            try DurableFile.write(data, to: url, tmpFolder: Self.temporaries(root), synchronize: false)
            return .sent(providerID: relative)
        } catch {
            return .transient(code: "file_write", "could not write under \(folder): \(error)")
        }
    }

    /// `outbox/sent/.tmp/`: files being written.
    static func temporaries(_ root: URL) -> URL {
        WorkspacePaths(root: root).sentTemporaries
    }

    /// Removes what a run killed mid-write left in `outbox/sent/.tmp/`. Call it while holding the
    /// workspace's run lock, before sending.
    public static func removeTemporaries(root: URL) {
        let folder = temporaries(root)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
            unlink(folder.appendingPathComponent(name).path)
        }
    }

    /// The batch file name without extension, made safe for a folder name.
    static func folderName(_ file: String) -> String {
        let stem = (file as NSString).deletingPathExtension
        let safe = stem.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" }
        return safe.isEmpty ? "batch" : String(safe)
    }

    private func document(_ envelope: Envelope) throws -> (Data, String) {
        switch envelope.message.content {
        case let .mail(mail):
            guard let account = configuration.mailAccounts[mail.account] else {
                throw FileTransportError(message: "mail account '\(mail.account)' is not in herald.yaml")
            }
            let composer = MailComposer(timeZone: configuration.timeZone)
            let message = try composer.compose(mail, account: account, to: MailAddress(envelope.address), extras: envelope.mail,
                                               root: root, messageID: envelope.id.value)
            // With a bounce_domain, the VERP envelope sender, as the receiving server would record it.
            guard account.bounceDomain != nil else { return (message.data, "eml") }
            let returnPath = Data("Return-Path: <\(account.envelopeSender(messageID: envelope.id.value))>\r\n".utf8)
            return (returnPath + message.data, "eml")
        case let .sms(sms):
            return (try json(envelope, sms), "json")
        case let .site(site):
            return (try json(envelope, site), "json")
        case let .wechatMP(wechat), let .wechatMini(wechat):
            return (try json(envelope, wechat), "json")
        case let .wecom(chat), let .dingtalk(chat), let .feishu(chat):
            return (try json(envelope, chat), "json")
        }
    }

    private struct Document<Content: Encodable>: Encodable {
        var messageId: String
        var channel: String
        var account: String
        var to: String
        var userId: String?
        var tenantId: String?
        var template: String
        var content: Content
    }

    private func json<Content: Encodable>(_ envelope: Envelope, _ content: Content) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let document = Document(messageId: envelope.id.value, channel: envelope.channel.rawValue, account: envelope.account,
                                to: envelope.address, userId: envelope.recipient.userID, tenantId: envelope.recipient.tenantID,
                                template: envelope.message.template, content: content)
        return try encoder.encode(document)
    }
}

/// Accepts everything and sends nothing: `sent`, with no provider id and nothing stored
/// anywhere. Used by benchmarks, and by operators to mute a channel.
public struct DiscardTransport: Transport {
    /// The name in logs.
    public let name = "discard"
    /// Nothing leaves Herald, so no journal is needed.
    public var hasSideEffects: Bool { false }
    /// How many messages it may have in flight at once.
    public let concurrency: Int

    /// Creates a discarding transport.
    public init(concurrency: Int = 64) {
        self.concurrency = concurrency
    }

    /// Sent, and nothing else.
    public func send(_ envelope: Envelope) async -> DeliveryOutcome {
        .sent(providerID: nil)
    }
}

struct FileTransportError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
