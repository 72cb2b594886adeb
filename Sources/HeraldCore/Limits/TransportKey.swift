import Foundation

/// A channel's account, as the send stage groups messages and keys what it counts per account:
/// rate buckets, daily quotas, the error-burst guard and pauses. Stores keep it as its
/// description (`sms/aliyun`), the name the log and `herald run` print.
///
/// ```swift
/// let key = TransportKey(.mail, "exmail")
/// key.description      // "mail/exmail"
/// ```
public struct TransportKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The channel.
    public let channel: Channel
    /// The account (a mail account, an SMS channel, a WeChat app) within the channel.
    public let account: String

    /// The key of `account` of `channel`.
    public init(_ channel: Channel, _ account: String) {
        self.channel = channel
        self.account = account
    }

    /// `channel/account`.
    public var description: String { "\(channel.rawValue)/\(account)" }

    public static func < (lhs: TransportKey, rhs: TransportKey) -> Bool {
        lhs.description < rhs.description
    }
}
