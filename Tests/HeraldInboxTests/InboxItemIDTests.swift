import Testing
import HeraldInbox

/// The one place inbox ids are read and written: `42` is a 站内信, `n7` an announcement.
@Suite struct InboxItemIDTests {
    @Test func idsReadAndPrintInTheFormTheAPIShows() {
        #expect(InboxItemID("42") == .message(42))
        #expect(InboxItemID("n7") == .notice(7))
        #expect(InboxItemID.notice(7).description == "n7")
        #expect(InboxItemID.message(42).description == "42")
        #expect(InboxItemID("n7")?.number == 7)
        for bad in ["", "n", "nn7", "7n", "x7", "n7x", "N7", "９"] {
            #expect(InboxItemID(bad) == nil, "\(bad)")
        }
    }
}
