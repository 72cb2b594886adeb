/// The id of an inbox item as the API and the command line show it: a 站内信 by its row number
/// (`42`), an announcement by its number with an `n` before it (`n7`). Parsed and printed here
/// only, so the stores and the commands agree on the form.
///
/// ```swift
/// InboxItemID("n7")            // .notice(7)
/// InboxItemID("42")            // .message(42)
/// InboxItemID.notice(7).description   // "n7"
/// ```
public enum InboxItemID: Hashable, Sendable, CustomStringConvertible {
    /// A 站内信 (`site_messages` row).
    case message(Int64)
    /// An announcement (系统公告, `notices` row).
    case notice(Int64)

    /// Parses `n7` as an announcement and `42` as a 站内信; nil for anything else.
    public init?(_ text: String) {
        if text.hasPrefix("n"), let number = Int64(text.dropFirst()) {
            self = .notice(number)
        } else if let number = Int64(text) {
            self = .message(number)
        } else {
            return nil
        }
    }

    /// The row number, whichever kind.
    public var number: Int64 {
        switch self {
        case let .message(number), let .notice(number): number
        }
    }

    public var description: String {
        switch self {
        case let .message(number): String(number)
        case let .notice(number): "n\(number)"
        }
    }
}
