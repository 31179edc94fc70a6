"""One synthetic bounce per decoder, written the way that MTA writes it."""

from __future__ import annotations

from outguard.ndr import parse


def _msg(headers: str, body: str) -> bytes:
    return (headers.strip() + "\n\n" + body.lstrip("\n")).encode()


def test_rfc3464_report_gives_status_reply_code_remote_mta_and_command() -> None:
    raw = _msg(
        """
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
To: alice@example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"
""",
        """
--B
Content-Type: text/plain

This is the mail system at host mx.example.org.

<bob@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 <bob@example.net>:
    Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; bob@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected:
    User unknown in local recipient table

--B--
""",
    )
    report = parse(raw)
    assert report.kind == "bounce" and report.reporting_mta == "mx.example.org"
    (f,) = report.recipients
    assert (f.recipient, f.status, f.reply_code, f.reason) == (
        "bob@example.net",
        "5.1.1",
        "550",
        "userunknown",
    )
    assert f.remote_mta == "mx.example.net" and f.command == "RCPT"


def test_rfc3464_delayed_action_is_a_delay() -> None:
    raw = _msg(
        """
From: MAILER-DAEMON@mx.example.org
Subject: Delayed Mail (still being retried)
Content-Type: multipart/report; report-type=delivery-status; boundary="B"
""",
        """
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; bob@example.net
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.net[192.0.2.1]:25: Connection timed out

--B--
""",
    )
    report = parse(raw)
    assert report.kind == "delay"
    assert report.recipients[0].reason == "expired"


def test_exim_plain_text_bounce() -> None:
    raw = _msg(
        """
From: Mail Delivery System <Mailer-Daemon@mx.example.org>
To: alice@example.org
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1abcde-0001AB-CD@mx.example.org>
X-Failed-Recipients: bob@example.net
Auto-Submitted: auto-replied
""",
        """
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  bob@example.net
    SMTP error from remote mail server after RCPT TO:<bob@example.net>:
    host mx.example.net [192.0.2.1]: 550 5.2.2 <bob@example.net>: mailbox is full

------ This is a copy of the message, including all the headers. ------

To: bob@example.net
Subject: hello
""",
    )
    (f,) = parse(raw).recipients
    assert (f.recipient, f.status, f.reason, f.command) == ("bob@example.net", "5.2.2", "mailboxfull", "RCPT")


def test_qmail_bounce_without_status_code_has_no_status() -> None:
    raw = _msg(
        """
From: MAILER-DAEMON@mx.example.org
Subject: failure notice
""",
        """
Hi. This is the qmail-send program at mx.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<bob@example.net>:
Sorry, I couldn't find any host named example.net. (#5.1.2)

--- Below this line is a copy of the message.

To: bob@example.net
""",
    )
    (f,) = parse(raw).recipients
    assert (f.recipient, f.reason) == ("bob@example.net", "hostunknown")
    assert f.status == "5.1.2"


def test_dragonfly_bounce() -> None:
    raw = _msg(
        """
From: MAILER-DAEMON <>
Subject: Mail delivery failed
""",
        """
This is the DragonFly Mail Agent v0.13 at df.example.org.

There was an error delivering your mail to <bob@example.net>.

mx.example.net [192.0.2.25] did not like our RCPT TO:
552 5.2.2 <bob@example.net>: Recipient address rejected: Mailbox full

Message headers follow.

To: <bob@example.net>
""",
    )
    (f,) = parse(raw).recipients
    assert (f.recipient, f.status, f.reason, f.command) == ("bob@example.net", "5.2.2", "mailboxfull", "RCPT")


def test_gmail_state_code_names_the_phase() -> None:
    raw = _msg(
        """
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
Subject: Delivery Status Notification (Failure)
""",
        """
Delivery to the following recipient failed permanently:

     bob@example.net

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the recipient domain. The error that the
other server returned was: 550 550 <bob@example.net>: User unknown (state 14).

----- Original message -----

To: bob@example.net
""",
    )
    (f,) = parse(raw).recipients
    assert (f.recipient, f.reason, f.command) == ("bob@example.net", "userunknown", "RCPT")


def test_exchange_2003_error_number() -> None:
    raw = _msg(
        """
From: postmaster@example.net
Subject: Undeliverable: hello
X-Mailer: Internet Mail Service (5.5.2657.72)
""",
        """
Your message

  To:      alice@example.org
  Subject: hello

did not reach the following recipient(s):

bob@example.net on Thu, 29 Apr 2007 16:51:51 -0500
    The recipient name is not recognized
    MSEXCH:IMS:EXAMPLE:SITE:EXCHANGE 0 (000C05A6) Unknown Recipient
""",
    )
    (f,) = parse(raw).recipients
    assert (f.recipient, f.status, f.reason) == ("bob@example.net", None, "userunknown")


def test_google_groups_refusal() -> None:
    raw = _msg(
        """
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
Subject: Delivery Status Notification (Failure)
X-Failed-Recipients: team@googlegroups.com
""",
        """
Hello alice@example.org,

We're writing to let you know that the group you tried to contact (team) may not exist, or you may
not have permission to post messages to the group.

If you have questions, visit the Help Center at https://groups.google.com/support/.
""",
    )
    (f,) = parse(raw).recipients
    assert (f.recipient, f.reason) == ("team@googlegroups.com", "rejected")


def test_feedback_report() -> None:
    raw = _msg(
        """
From: staff@hotmail.example
Subject: complaint about message
Content-Type: multipart/report; report-type=feedback-report; boundary="B"
""",
        """
--B
Content-Type: text/plain

This is an email abuse report.

--B
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Example-FBL/1.0
Version: 1
Original-Rcpt-To: bob@example.net

--B
Content-Type: text/rfc822-headers

From: alice@example.org
To: bob@example.net

--B--
""",
    )
    report = parse(raw)
    assert report.kind == "feedback" and not report.is_bounce
    (f,) = report.recipients
    assert (f.recipient, f.reason, f.feedback_type, f.status) == (
        "bob@example.net",
        "feedback",
        "abuse",
        None,
    )


def test_out_of_office_reply_is_an_autoreply() -> None:
    raw = _msg(
        """
From: Bob <bob@example.net>
To: alice@example.org
Subject: Out of Office: hello
Auto-Submitted: auto-replied
""",
        "I am out of the office until Monday.\n",
    )
    report = parse(raw)
    assert report.kind == "autoreply" and not report.is_bounce
    assert [(f.recipient, f.reason) for f in report.recipients] == [("bob@example.net", "vacation")]


def test_ordinary_mail_is_not_a_bounce() -> None:
    raw = _msg("From: alice@example.org\nTo: bob@example.net\nSubject: lunch?", "Noon at the usual place?\n")
    report = parse(raw)
    assert report.kind == "not-a-bounce" and report.recipients == []


def test_garbage_does_not_crash() -> None:
    for raw in (b"", b"\x00\xff\xfe", b"Content-Type: multipart/report; boundary=\n\n--\n", b"From x\r\r\r"):
        assert parse(raw).kind == "not-a-bounce"
