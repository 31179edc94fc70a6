"""Reading messages as they reach users: mbox files, broken MIME, forwarded and wrapped bounces."""

from __future__ import annotations

from outguard.ndr import parse


def _dsn(rcpt: str, status: str, diag: str, boundary: str = "B") -> str:
    return f"""--{boundary}
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: {status}
Diagnostic-Code: smtp; {diag}

--{boundary}--
"""


def _bounce(rcpt: str, status: str, diag: str) -> str:
    return (
        "From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered Mail Returned to Sender\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        + _dsn(rcpt, status, diag)
    )


def test_mbox_with_several_bounces_reports_every_recipient() -> None:
    mbox = (
        "From MAILER-DAEMON  Thu Apr 29 23:34:45 2021\n"
        + _bounce("bob@example.net", "5.1.1", "550 5.1.1 User unknown")
        + "From MAILER-DAEMON  Thu Apr 29 23:35:45 2021\n"
        + _bounce("carol@example.net", "5.2.2", "552 5.2.2 Mailbox full")
    )
    report = parse(mbox.encode())
    assert [(f.recipient, f.reason) for f in report.recipients] == [
        ("bob@example.net", "userunknown"),
        ("carol@example.net", "mailboxfull"),
    ]


def test_recipients_without_a_blank_line_between_them() -> None:
    raw = (
        "From: MAILER-DAEMON@mx.example.org\nSubject: failure\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
        "--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
        "Final-Recipient: rfc822; bob@example.net\nAction: failed\nStatus: 5.2.2\n"
        "Final-Recipient: rfc822; carol@example.net\nAction: failed\nStatus: 5.1.1\n\n--B--\n"
    )
    assert [(f.recipient, f.status) for f in parse(raw.encode()).recipients] == [
        ("bob@example.net", "5.2.2"),
        ("carol@example.net", "5.1.1"),
    ]


def test_declared_boundary_that_the_body_does_not_use() -> None:
    raw = (
        "From: MAILER-DAEMON@mx.example.org\nSubject: Undelivered Mail Returned to Sender\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="declared"\n\n'
        "This is a MIME-encapsulated message.\n\n"
        + _dsn("bob@example.net", "5.1.1", "550 5.1.1 User unknown", "used")
    )
    (f,) = parse(raw.encode()).recipients
    assert (f.recipient, f.reason) == ("bob@example.net", "userunknown")


def test_mime_body_whose_content_type_header_was_lost() -> None:
    raw = (
        "From: MAILER-DAEMON@mx.example.org\nSubject: Returned mail: see transcript for details\n\n"
        "This is a MIME-encapsulated message\n\n"
        "--X\n\nThe original message was received at Thu, 29 Apr 2021\n\n"
        + _dsn("bob@example.net", "4.4.7", "", "X")
    )
    (f,) = parse(raw.encode()).recipients
    assert (f.recipient, f.status, f.reason) == ("bob@example.net", "4.4.7", "expired")


def test_a_bounce_forwarded_by_a_user() -> None:
    raw = """From: Alice <alice@example.org>
To: helpdesk@example.org
Subject: Fwd: Returned mail: see transcript for details

Why did this bounce?

Begin forwarded message:

> From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>
> Subject: Returned mail: see transcript for details
>
>    ----- The following addresses had permanent fatal errors -----
> <bob@example.net>
>     (reason: 550 5.1.1 <bob@example.net>... User unknown)
>
>    ----- Transcript of session follows -----
> ... while talking to mx.example.net.:
>>>> RCPT To:<bob@example.net>
> <<< 550 5.1.1 <bob@example.net>... User unknown
> 550 5.1.1 <bob@example.net>... User unknown
"""
    (f,) = parse(raw.encode()).recipients
    assert (f.recipient, f.status, f.reason) == ("bob@example.net", "5.1.1", "userunknown")


def test_a_bounce_wrapped_by_a_gateway() -> None:
    inner = _bounce("bob@example.net", "5.1.1", "550 5.1.1 User unknown")
    raw = (
        "From: Notifications <notify@gw.example.org>\nSubject: Delivery notice\n"
        'Content-Type: multipart/mixed; boundary="OUT"\n\n'
        "--OUT\nContent-Type: text/plain\n\nThe following message could not be delivered.\n\n"
        "--OUT\nContent-Type: message/rfc822\n\n" + inner + "\n--OUT--\n"
    )
    (f,) = parse(raw.encode()).recipients
    assert (f.recipient, f.reason) == ("bob@example.net", "userunknown")


def test_a_report_without_a_delivery_status_part_uses_its_note() -> None:
    raw = """From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.edu>
Subject: Returned mail: Service unavailable
Content-Type: multipart/report; report-type=delivery-status; boundary="never-used"

   ----- Transcript of session follows -----
mail.local: unknown user: bob

Reporting-MTA: dns; mx.example.edu

Final-Recipient: RFC822; bob@example.edu
Action: failed
Status: 5.5.0
"""
    (f,) = parse(raw.encode()).recipients
    assert (f.recipient, f.reason) == ("bob@example.edu", "userunknown")
