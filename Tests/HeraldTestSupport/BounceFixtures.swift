import Foundation

/// Bounce and complaint messages as mail systems write them, for the bounce tests: the
/// examples of RFC 3464 (appendix) and RFC 5965 (appendix B) and Postfix's bounce format, with
/// Herald's addresses put in where the original mail's addresses go.
public enum BounceFixtures {
    /// Postfix's bounce for a mail rejected with 550 5.1.1, sent to the VERP address of `id`;
    /// `verp: false` leaves the VERP address out (a bounce forwarded to a plain mailbox), so only
    /// the returned headers' Message-ID names the mail.
    public static func postfix(id: String, recipient: String = "wang.fang@example.cn", verp: Bool = true) -> String {
        let bounce = verp ? "b+\(id)@bounces.shop.example.com" : "postmaster@shop.example.com"
        return """
        Return-Path: <>
        X-Original-To: \(bounce)
        Delivered-To: \(bounce)
        Received: by mx.bounces.shop.example.com (Postfix)
        \tid 3F2A1C0123; Tue,  1 Dec 2026 10:03:12 +0800 (CST)
        Date: Tue,  1 Dec 2026 10:03:12 +0800 (CST)
        From: MAILER-DAEMON@mail.shop.example.com (Mail Delivery System)
        Subject: Undelivered Mail Returned to Sender
        To: \(bounce)
        Auto-Submitted: auto-replied
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status;
        \tboundary="4A3B21C0456.1764554592/mail.shop.example.com"
        Content-Transfer-Encoding: 8bit
        Message-Id: <20261201020312.3F2A1C0123@mail.shop.example.com>

        This is a MIME-encapsulated message.

        --4A3B21C0456.1764554592/mail.shop.example.com
        Content-Description: Notification
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: 8bit

        This is the mail system at host mail.shop.example.com.

        I'm sorry to have to inform you that your message could not
        be delivered to one or more recipients. It's attached below.

        <\(recipient)>: host mx.example.cn[203.0.113.5] said: 550 5.1.1
            <\(recipient)>: Recipient address rejected: User unknown in virtual
            mailbox table (in reply to RCPT TO command)

        --4A3B21C0456.1764554592/mail.shop.example.com
        Content-Description: Delivery report
        Content-Type: message/delivery-status

        Reporting-MTA: dns; mail.shop.example.com
        X-Postfix-Queue-ID: 4A3B21C0456
        X-Postfix-Sender: rfc822; \(verp ? bounce : "noreply@shop.example.com")
        Arrival-Date: Tue,  1 Dec 2026 10:03:10 +0800 (CST)

        Final-Recipient: rfc822; \(recipient)
        Original-Recipient: rfc822;\(recipient)
        Action: failed
        Status: 5.1.1
        Remote-MTA: dns; mx.example.cn
        Diagnostic-Code: smtp; 550 5.1.1 <\(recipient)>: Recipient address
            rejected: User unknown in virtual mailbox table

        --4A3B21C0456.1764554592/mail.shop.example.com
        Content-Description: Undelivered Message Headers
        Content-Type: text/rfc822-headers
        Content-Transfer-Encoding: 8bit

        Return-Path: <\(verp ? bounce : "noreply@shop.example.com")>
        Received: by mail.shop.example.com (Postfix, from userid 0)
        \tid 4A3B21C0456; Tue,  1 Dec 2026 10:03:10 +0800 (CST)
        From: =?UTF-8?B?5LqR5ZWG5Z+O?= <noreply@shop.example.com>
        To: <\(recipient)>
        Subject: =?UTF-8?B?5oKo55qE6K6i5Y2V5bey5Y+R6LSn?=
        Message-ID: <\(id)@shop.example.com>
        Date: Tue, 01 Dec 2026 10:03:09 +0800

        --4A3B21C0456.1764554592/mail.shop.example.com--

        """.replacingOccurrences(of: "\n", with: "\r\n")
    }

    /// RFC 3464's "Simple DSN" (a message that could not be sent for 5 days: `Action: failed`,
    /// `Status: 4.0.0`), returning the original message whose Message-ID is Herald's `id`.
    public static func rfc3464Simple(id: String, recipient: String = "louisl@larry.slip.umd.edu") -> String {
        """
        Date: Thu, 7 Jul 1994 17:16:05 -0400
        From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
        Message-Id: <199407072116.RAA14128@CS.UTK.EDU>
        Subject: Returned mail: Cannot send message for 5 days
        To: <noreply@shop.example.com>
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status;
              boundary="RAA14128.773615765/CS.UTK.EDU"

        --RAA14128.773615765/CS.UTK.EDU

        The original message was received at Sat, 2 Jul 1994 17:10:28 -0400
        from root@localhost

           ----- The following addresses had delivery problems -----
        <\(recipient)>  (unrecoverable error)

           ----- Transcript of session follows -----
        <\(recipient)>... Deferred: Connection timed out
                with larry.slip.umd.edu.
        Message could not be delivered for 5 days
        Message will be deleted from queue

        --RAA14128.773615765/CS.UTK.EDU
        content-type: message/delivery-status

        Reporting-MTA: dns; cs.utk.edu

        Original-Recipient: rfc822;\(recipient)
        Final-Recipient: rfc822;\(recipient)
        Action: failed
        Status: 4.0.0
        Diagnostic-Code: smtp; 426 connection timed out
        Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400

        --RAA14128.773615765/CS.UTK.EDU
        content-type: message/rfc822

        From: noreply@shop.example.com
        To: \(recipient)
        Message-ID: <\(id)@shop.example.com>
        Subject: Your order

        Hello.
        --RAA14128.773615765/CS.UTK.EDU--

        """
    }

    /// RFC 3464's "Multi-Recipient DSN": three recipients, failed (5.0.0), failed (5.0.0) and
    /// delivered; nothing names Herald's message but the recipients.
    public static let rfc3464MultiRecipient = """
        Date: Fri, 8 Jul 1994 09:21:47 -0400
        From: Mail Delivery Subsystem <MAILER-DAEMON@sun2.nsfnet-relay.ac.uk>
        Subject: Returned mail: User unknown
        To: <noreply@shop.example.com>
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=delivery-status;
              boundary="JAA13167.773673707/CS.UTK.EDU"

        --JAA13167.773673707/CS.UTK.EDU
        content-type: text/plain; charset=us-ascii

           ----- The following addresses had delivery problems -----
        <arathib@vnet.ibm.com>  (unrecoverable error)
        <wsnell@sdcc13.ucsd.edu>  (unrecoverable error)

        --JAA13167.773673707/CS.UTK.EDU
        content-type: message/delivery-status

        Reporting-MTA: dns; cs.utk.edu

        Original-Recipient: rfc822;arathib@vnet.ibm.com
        Final-Recipient: rfc822;arathib@vnet.ibm.com
        Action: failed
        Status: 5.0.0 (permanent failure)
        Diagnostic-Code: smtp;
          550 'arathib@vnet.IBM.COM' is not a registered gateway user
        Remote-MTA: dns; vnet.ibm.com

        Original-Recipient: rfc822;johnh@hpnjld.njd.hp.com
        Final-Recipient: rfc822;johnh@hpnjld.njd.hp.com
        Action: delayed
        Status: 4.0.0 (hpnjld.njd.jp.com: host name lookup failure)

        Original-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
        Final-Recipient: rfc822;wsnell@sdcc13.ucsd.edu
        Action: failed
        Status: 5.0.0
        Diagnostic-Code: smtp; 550 user unknown
        Remote-MTA: dns; sdcc13.ucsd.edu

        --JAA13167.773673707/CS.UTK.EDU
        content-type: message/rfc822

        [original message goes here]
        --JAA13167.773673707/CS.UTK.EDU--

        """

    /// RFC 5965's abuse report (appendix B), about mail Herald sent with VERP id `id` to `recipient`.
    public static func arf(id: String, recipient: String = "user@example.com") -> String {
        """
        From: <abusedesk@example.com>
        Date: Thu, 8 Mar 2005 17:40:36 EDT
        Subject: FW: Earn money
        To: <abuse@shop.example.com>
        MIME-Version: 1.0
        Content-Type: multipart/report; report-type=feedback-report;
             boundary="part1_13d.2e68ed54_boundary"

        --part1_13d.2e68ed54_boundary
        Content-Type: text/plain; charset="US-ASCII"
        Content-Transfer-Encoding: 7bit

        This is an email abuse report for an email message received from IP
        192.0.2.1 on Thu, 8 Mar 2005 14:00:00 EDT.  For more information
        about this format please see http://www.mipassoc.org/arf/.

        --part1_13d.2e68ed54_boundary
        Content-Type: message/feedback-report

        Feedback-Type: abuse
        User-Agent: SomeGenerator/1.0
        Version: 1
        Original-Mail-From: <b+\(id)@bounces.shop.example.com>
        Original-Rcpt-To: <\(recipient)>
        Arrival-Date: Thu, 8 Mar 2005 14:00:00 EDT
        Reporting-MTA: dns; mail.example.com
        Source-IP: 192.0.2.1
        Authentication-Results: mail.example.com;
                       spf=pass smtp.mail=b+\(id)@bounces.shop.example.com
        Removal-Recipient: \(recipient)

        --part1_13d.2e68ed54_boundary
        Content-Type: message/rfc822
        Content-Disposition: inline

        From: <noreply@shop.example.com>
        To: <\(recipient)>
        Subject: Earn money
        MIME-Version: 1.0
        Content-type: text/plain
        Message-ID: <\(id)@shop.example.com>
        Date: Thu, 02 Sep 2004 12:31:03 -0500

        Spam Spam Spam
        --part1_13d.2e68ed54_boundary--

        """
    }

    /// An out-of-office reply sent to the bounce address: no report in it.
    public static let autoReply = """
        From: wang.fang@example.cn
        To: b+0123456789abcdef0123456789abcdef@bounces.shop.example.com
        Subject: =?UTF-8?B?6Ieq5Yqo5Zue5aSN?=
        Auto-Submitted: auto-replied
        Content-Type: text/plain; charset=utf-8

        我正在休假，12 月 8 日回来。

        """
}
