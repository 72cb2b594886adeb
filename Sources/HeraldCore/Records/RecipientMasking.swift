import Foundation

/// Hides most of an address in logs: `l***@example.com`, `+86138****8000`, `oAbC***xYz9`, `z***n`.
public enum RecipientMasking: String, Sendable, Hashable, CaseIterable {
    case masked
    case full

    /// `text` (an error message) with every occurrence of each address replaced by its masked
    /// form, so `email 'li.lei@example..com' is not valid` and a provider's `550 <li@x.cn>…`
    /// leak no more than the recipient field does. Longer addresses are replaced first.
    public func scrub(_ text: String, addresses: [(address: String, channel: Channel)]) -> String {
        guard self == .masked else { return text }
        var result = text
        for (address, channel) in addresses.sorted(by: { $0.address.count > $1.address.count })
        where !address.isEmpty && channel != .site && result.contains(address) {
            result = result.replacingOccurrences(of: address, with: apply(address, channel: channel))
        }
        return result
    }


    /// `address` as the log shows it.
    public func apply(_ address: String, channel: Channel) -> String {
        guard self == .masked else { return address }
        switch channel {
        case .site:
            return address
        case .mail:
            guard let at = address.lastIndex(of: "@") else { return "***" }
            return String(address.prefix(1)) + "***" + address[at...]
        case .sms:
            let digits = address.count
            guard digits > 8 else { return "***" }
            return String(address.prefix(digits - 8)) + "****" + String(address.suffix(4))
        case .wechatMP, .wechatMini:
            guard address.count > 8 else { return "***" }
            return String(address.prefix(4)) + "***" + String(address.suffix(4))
        case .wecom, .dingtalk, .feishu:
            // A robot's address names its group, not a person; a member id names a person.
            if address.hasPrefix("robot:") { return address }
            guard address.count > 2 else { return "***" }
            return String(address.prefix(1)) + "***" + String(address.suffix(1))
        }
    }
}
