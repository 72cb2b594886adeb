/// Who a row is for: the reserved columns of a batch.
public struct Recipient: Sendable, Hashable, Codable {
    /// The product's user id (site messages need it).
    public var userID: String?
    /// The product's user type (member, merchant…).
    public var userType: String?
    /// Tenant, for multi-tenant products.
    public var tenantID: String?
    /// Email address.
    public var email: String?
    /// Mobile number.
    public var mobile: String?
    /// WeChat official-account openid.
    public var openID: String?
    /// WeChat mini-program openid.
    public var miniOpenID: String?
    /// 企业微信 userid (or a party or tag id, as the template's `to:` says) (column `wecom_user`).
    public var wecomUser: String?
    /// 钉钉 userid (column `dingtalk_user`).
    public var dingtalkUser: String?
    /// 飞书 open_id (or user_id, union_id, email, chat_id as the template's `id_type` says) (column `feishu_user`).
    public var feishuUser: String?
    /// Locale tag (`zh-CN`, `en`).
    public var locale: String?
    /// The recipient's IANA time zone (`America/New_York`): quiet hours and a `send_at` without an
    /// offset are read in it (column `timezone`).
    public var timeZone: String?

    /// Creates a recipient.
    public init(userID: String? = nil, userType: String? = nil, tenantID: String? = nil, email: String? = nil,
                mobile: String? = nil, openID: String? = nil, miniOpenID: String? = nil, locale: String? = nil,
                timeZone: String? = nil) {
        self.timeZone = timeZone
        self.userID = userID
        self.userType = userType
        self.tenantID = tenantID
        self.email = email
        self.mobile = mobile
        self.openID = openID
        self.miniOpenID = miniOpenID
        self.locale = locale
    }

    /// A recipient with a 企业微信 userid (and any other field).
    public init(wecomUser: String, userID: String? = nil, tenantID: String? = nil, locale: String? = nil) {
        self.init(userID: userID, tenantID: tenantID, locale: locale)
        self.wecomUser = wecomUser
    }

    /// The field holding the address of `channel`: user id, email, mobile or an openid.
    static func field(for channel: Channel) -> WritableKeyPath<Recipient, String?> {
        switch channel {
        case .site: \.userID
        case .mail: \.email
        case .sms: \.mobile
        case .wechatMP: \.openID
        case .wechatMini: \.miniOpenID
        case .wecom: \.wecomUser
        case .dingtalk: \.dingtalkUser
        case .feishu: \.feishuUser
        }
    }

    /// The raw address for `channel`, nil when the row has none (empty counts as none).
    public func address(for channel: Channel) -> String? {
        // A switch, not `self[keyPath:]`: key-path reads are slow and this runs for every delivery.
        let field: String? = switch channel {
        case .site: userID
        case .mail: email
        case .sms: mobile
        case .wechatMP: openID
        case .wechatMini: miniOpenID
        case .wecom: wecomUser
        case .dingtalk: dingtalkUser
        case .feishu: feishuUser
        }
        guard let value = field, !value.isEmpty else { return nil }
        return value
    }

    /// Sets the address for `channel` (the field `address(for:)` reads).
    public mutating func setAddress(_ address: String, for channel: Channel) {
        self[keyPath: Self.field(for: channel)] = address
    }
}


/// Mail-only columns of a row: copies, attachments and an unsubscribe link.
public struct MailExtras: Sendable, Hashable, Codable {
    /// Cc addresses (shown in the header).
    public var cc: [String]
    /// Bcc addresses (on the envelope only, never in a header).
    public var bcc: [String]
    /// Files to attach, as paths inside the workspace.
    public var attachments: [String]
    /// One-click unsubscribe URL (List-Unsubscribe), overriding the template's.
    public var unsubscribeURL: String?

    /// Creates extras.
    public init(cc: [String] = [], bcc: [String] = [], attachments: [String] = [], unsubscribeURL: String? = nil) {
        self.cc = cc
        self.bcc = bcc
        self.attachments = attachments
        self.unsubscribeURL = unsubscribeURL
    }
}

/// One recipient row read from a batch, before validation.
public struct RecipientRow: Sendable, Hashable, Codable {
    /// Data row number: 1 for the first recipient. Part of the message identity.
    public var row: Int
    /// Physical line where the record starts (CSV and JSON lines), for error messages.
    public var line: Int?
    /// The template code the row names (or the batch default).
    public var template: String?
    /// Channels the row asks for; nil means every channel it has an address for.
    public var channels: [String]?
    /// The recipient.
    public var recipient: Recipient
    /// Template parameters (every non-reserved column).
    public var parameters: [String: String]
    /// cc, bcc, attachments and unsubscribe_url columns.
    public var mail: MailExtras
    /// When to send, as written (column `send_at`, or the JSON batch's `send_at`): ISO 8601 with
    /// an offset, or a local date-time read in the recipient's zone. Nil sends now.
    public var sendAt: String?

    /// Creates a row.
    public init(row: Int, line: Int? = nil, template: String? = nil, channels: [String]? = nil,
                recipient: Recipient = Recipient(), parameters: [String: String] = [:], mail: MailExtras = MailExtras()) {
        self.row = row
        self.line = line
        self.template = template
        self.channels = channels
        self.recipient = recipient
        self.parameters = parameters
        self.mail = mail
    }
}

/// What a batch reader yields for each record: a row, or a record it could not read
/// (recorded as `invalid` with its line; the batch goes on).
public enum BatchRecord: Sendable, Hashable, Codable {
    case row(RecipientRow)
    case unreadable(row: Int, line: Int?, reason: String)
}

extension RecipientRow {
    /// The first value holding a control character other than tab, newline and carriage return
    /// (a NUL would cut a stored 站内信 short; others garble SMS and headers): its column, the
    /// character and its position (1-based, in characters); nil when every value is clean.
    public var controlCharacter: (column: String, scalar: Unicode.Scalar, position: Int)? {
        // Almost every row is clean: look at every value's bytes, in no order, before finding
        // the first offending character in column order.
        guard holdsControlByte else { return nil }
        var found: (column: String, scalar: Unicode.Scalar, position: Int)?
        visitValues { column, value in
            // Almost every value is clean: check its bytes first, and find the character only when needed.
            var bytes = value
            guard bytes.withUTF8({ $0.contains { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F } }) else {
                return false
            }
            for (index, scalar) in value.unicodeScalars.enumerated() where Self.isForbidden(scalar) {
                found = (column, scalar, index + 1)
                return true
            }
            return false
        }
        return found
    }

    /// Whether any value or parameter name holds a control byte (tab and line breaks allowed).
    private var holdsControlByte: Bool {
        func bad(_ value: String?) -> Bool {
            guard var value else { return false }
            return value.withUTF8 { $0.contains { ($0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D) || $0 == 0x7F } }
        }
        let r = recipient
        return bad(template) || bad(sendAt) || bad(r.userID) || bad(r.userType) || bad(r.tenantID) || bad(r.email) || bad(r.mobile)
            || bad(r.openID) || bad(r.miniOpenID) || bad(r.wecomUser) || bad(r.dingtalkUser) || bad(r.feishuUser) || bad(r.locale) || bad(r.timeZone) || bad(mail.unsubscribeURL)
            || mail.cc.contains(where: bad) || mail.bcc.contains(where: bad) || mail.attachments.contains(where: bad)
            || (channels ?? []).contains(where: bad) || parameters.contains { bad($0.key) || bad($0.value) }
    }

    /// Calls `visit` with each value of the row and the column it came from, in column order,
    /// until `visit` returns true. Lists (cc, bcc, attachments) are visited joined by `|`; a
    /// parameter's name is visited too, as "a column name".
    private func visitValues(_ visit: (String, String) -> Bool) {
        func check(_ column: String, _ value: String?) -> Bool {
            guard let value else { return false }
            return visit(column, value)
        }
        if check("template", template) { return }
        for channel in Channel.allCases where check(channel.addressColumn, recipient[keyPath: Recipient.field(for: channel)]) { return }
        for (column, value) in [("user_type", recipient.userType), ("tenant_id", recipient.tenantID), ("locale", recipient.locale),
                                ("unsubscribe_url", mail.unsubscribeURL), ("timezone", recipient.timeZone), ("send_at", sendAt)]
        where check(column, value) { return }
        for (column, list) in [("cc", mail.cc), ("bcc", mail.bcc), ("attachments", mail.attachments)]
        where !list.isEmpty && check(column, list.joined(separator: "|")) { return }
        for channel in channels ?? [] where check("channels", channel) { return }
        for name in parameters.keys.sorted() where check("a column name", name) || check(name, parameters[name]) { return }
    }

    private static func isForbidden(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r") || scalar.value == 0x7F
    }
}

extension RecipientRow {
    /// Every address the row holds, as written, with its channel (for masking error messages).
    public var addresses: [(address: String, channel: Channel)] {
        var all: [(address: String, channel: Channel)] = Channel.allCases.compactMap { channel in
            recipient.address(for: channel).map { ($0, channel) }
        }
        all += (mail.cc + mail.bcc).map { ($0, Channel.mail) }
        // A mobile is also written normalised (`+8613800138000`) in messages.
        if let mobile = recipient.mobile, let normalised = AddressValidation.normalizeMobile(mobile) { all.append((normalised, .sms)) }
        return all
    }
}
