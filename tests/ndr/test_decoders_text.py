"""One synthetic bounce per decoder of MTAs that write their own (mostly plain-text) format."""

from __future__ import annotations

import json

from outguard.ndr import parse
from outguard.ndr.parse import Failure


def _msg(headers: str, body: str) -> bytes:
    return (headers.strip() + "\n\n" + body.lstrip("\n")).encode()


def _one(raw: bytes) -> Failure:
    (f,) = parse(raw).recipients
    return f


def test_sendmail_dsn_transcript_gives_the_whole_reply_and_the_command() -> None:
    raw = _msg(
        """
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>
Subject: Returned mail: see transcript for details
Content-Type: multipart/report; report-type=delivery-status; boundary="B"
""",
        """
--B

   ----- The following addresses had permanent fatal errors -----
<bob@example.net>
    (reason: 550-5.7.1 Messages with multiple addresses in From:)

   ----- Transcript of session follows -----
... while talking to mx.example.net.:
>>> DATA
<<< 550-5.7.1 Messages with multiple addresses in From:
<<< 550 5.7.1 header are not accepted.
554 5.0.0 Service unavailable

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: RFC822; bob@example.net
Action: failed
Status: 5.7.1
Diagnostic-Code: SMTP; 550-5.7.1 Messages with multiple addresses in From:

--B--
""",
    )
    f = _one(raw)
    assert (f.status, f.command, f.reason) == ("5.7.1", "DATA", "notcompliantrfc")
    assert "header are not accepted" in f.diagnostic


def test_sendmail_transcript_mailer_error_status_replaces_a_vague_one() -> None:
    raw = _msg(
        """
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>
Subject: Returned mail: see transcript for details
Content-Type: multipart/report; report-type=delivery-status; boundary="B"
""",
        """
--B

   ----- The following addresses had permanent fatal errors -----
"|/usr/local/bin/filter"
    (reason: 75)
    (expanded from: <bob@example.org>)

   ----- Transcript of session follows -----
554 5.3.0 unknown mailer error 75

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: RFC822; bob@example.org
Action: failed
Status: 5.0.0
Diagnostic-Code: X-Unix; 75

--B--
""",
    )
    f = _one(raw)
    assert (f.status, f.reason) == ("5.3.0", "mailererror")


def test_v5_sendmail_text_without_a_dsn_part() -> None:
    raw = _msg(
        """
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>
Subject: Returned mail: User unknown
""",
        """
   ----- Transcript of session follows -----
While talking to mx.example.net:
>>> RCPT To:<bob@example.net>
<<< 550 <bob@example.net>... Mailbox not found
550 <bob@example.net>... User unknown

   ----- Unsent message follows -----
From: alice@example.org
To: bob@example.net
Subject: hi
""",
    )
    f = _one(raw)
    assert (f.recipient, f.command, f.reason, f.status) == ("bob@example.net", "RCPT", "userunknown", None)


def test_qmail_sentence_names_the_smtp_step() -> None:
    raw = _msg(
        """
From: MAILER-DAEMON@mx.example.org
Subject: failure notice
""",
        """
Hi. This is the qmail-send program at mx.example.org.
I'm afraid I wasn't able to deliver your message to the following addresses.

<bob@example.net>:
Connected to 192.0.2.1 but my name was rejected.
Remote host said: 501 5.0.0 Invalid domain name

--- Below this line is a copy of the message.
""",
    )
    f = _one(raw)
    assert (f.command, f.reason) == ("EHLO", "blocked")


def test_qmail_null_mx_and_ldap_texts() -> None:
    body = """
Hi. This is the qmail-send program at mx.example.org.

<bob@example.net>:
Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)

<carol@example.net>:
Unable to contact LDAP server. (#4.4.3)
I'm not going to try again; this message has been in the queue too long.

--- Below this line is a copy of the message.
"""
    report = parse(_msg("From: MAILER-DAEMON@mx.example.org\nSubject: failure notice", body))
    assert [(f.recipient, f.reason) for f in report.recipients] == [
        ("bob@example.net", "notaccept"),
        ("carol@example.net", "systemerror"),
    ]


def test_domino_directory_lookup() -> None:
    raw = _msg(
        """
From: Postmaster@example.net
Subject: DELIVERY FAILURE: User Bob (bob@example.net) not listed in Domino Directory
""",
        """
Your message

  Subject: hello

was not delivered to:

  bob@example.net

because:

  User Bob (bob@example.net) not listed in Domino Directory
""",
    )
    f = _one(raw)
    assert (f.recipient, f.reason, f.status) == ("bob@example.net", "userunknown", None)


def test_lotus_notes_failure_reasons() -> None:
    raw = _msg(
        """
From: POSTMASTER@gw.example.net
Subject: Undeliverable message
""",
        """
------- Failure Reasons  --------

User not listed in public Name & Address Book
bob@example.net

------- Returned Message --------
To: bob@example.net
""",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("bob@example.net", "userunknown")


def test_imail_error_line_and_quoted_reply() -> None:
    raw = _msg(
        """
From: "Postmaster" <postmaster@example.net>
Subject: Undeliverable Mail
X-Mailer: <SMTP32 v8.22>
""",
        """
Delivery failed 12 attempts: bob@example.net


Original message follows.

To: bob@example.net
""",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("bob@example.net", "expired")


def test_interscan_unable_to_deliver_line() -> None:
    raw = _msg(
        """
From: postmaster@example.net ("InterScan Notification")
Subject: Mail could not be delivered
Content-Type: multipart/mixed; boundary="B"
""",
        """
--B
Content-type: text/plain

Message from InterScan Messaging Security Suite

Unable to deliver message to <bob@example.net> (and other recipients in the same domain).

--B
Content-type: message/rfc822

To: bob@example.net

--B--
""",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("bob@example.net", "userunknown")


def test_mfilter_server_message_and_command() -> None:
    raw = _msg(
        """
From: POSTMASTER <postmaster@example.net>
Subject: failure notice
X-Mailer: m-FILTER
""",
        """
bob@example.net


-------server message
550 unknown user <bob@example.net>

-------SMTP command
DATA

-------original message
To: bob@example.net
""",
    )
    f = _one(raw)
    assert (f.command, f.reason) == ("DATA", "filtered")  # "unknown user" after DATA: a filter


def test_au_ezweb_spasign_means_the_recipients_filter() -> None:
    raw = _msg(
        """
From: <Postmaster@ezweb.ne.jp>
Subject: Mail System Error - Returned Mail
X-SPASIGN: NG
""",
        """
<bob@ezweb.ne.jp>

Each of the following recipients was rejected by a remote mail server.
""",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("bob@ezweb.ne.jp", "filtered")


def test_au_kddi_mailbox_full() -> None:
    raw = _msg(
        """
From: no-reply@mail.dion.ne.jp
Subject: Mail
""",
        """
Your mail sent on: Thu, 29 Apr 2021 10:00:00 +0900
     Could not be delivered to: <bob@example.dion.ne.jp>
     As their mailbox is full.
""",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("bob@example.dion.ne.jp", "mailboxfull")


def test_x2_style_notice_splits_recipients() -> None:
    raw = _msg(
        """
From: MAILER-DAEMON@example.net
Subject: Delivery failure
""",
        """
Message from example.net.
Unable to deliver message to the following address(es).

<bob@example.net>:
Sorry your message to bob@example.net cannot be delivered. This account has been disabled or discontinued [#102].

<carol@example.net>:
Sorry, your message to carol@example.net cannot be delivered.  This account is over quota.

--- Original message follows.
""",
    )
    assert [(f.recipient, f.reason) for f in parse(raw).recipients] == [
        ("bob@example.net", "suspend"),
        ("carol@example.net", "mailboxfull"),
    ]


def test_x3_technical_details() -> None:
    raw = _msg(
        """
From: Mail Delivery System <Mail.Delivery.System@mx.example.org>
Subject: Delivery status notification
""",
        """
      This is an automatically generated Delivery Status Notification.

Delivery to the following recipients failed permanently:

   * bob@example.net

                             Technical details:

SMTP:RCPT host 192.0.2.8: 553 5.3.0 <bob@example.net>... No such user here
""",
    )
    f = _one(raw)
    assert (f.status, f.command, f.reason) == ("5.3.0", "RCPT", "userunknown")


def test_gmx_and_one_and_one_notices() -> None:
    gmx = _msg(
        """
From: MAILER-DAEMON@mail.gmx.net
Subject: Mail delivery failed: returning message to sender
X-GMX-Antispam: 0
""",
        """
This message was created automatically by mail delivery software.

A message that you sent could not be delivered. The following address failed:

"bob@example.net":
SMTP error from remote server after RCPT command:
host: mx.example.net
5.2.2 <bob@example.net>... Mailbox Full


--- The header of the original message is following. ---
""",
    )
    f = _one(gmx)
    assert (f.status, f.command, f.reason) == ("5.2.2", "RCPT", "mailboxfull")
    ionos = _msg(
        """
From: "Mail Delivery System" <mailer-daemon@kundenserver.de>
Subject: Mail delivery failed: returning message to sender
""",
        """
This message was created automatically by mail delivery software.

The following address failed:

bob@example.net

For the following reason:

Mail size limit exceeded. For explanation visit the postmaster pages.

--- The header of the original message is following. ---
""",
    )
    assert _one(ionos).reason == "mesgtoobig"


def test_fml_list_refusal() -> None:
    raw = _msg(
        """
From: team-admin@lists.example.org
Subject: You alice@example.org are not member (team ML)
X-MLServer: fml [fml 4.0.3]
""",
        "You are not a member of this mailing list <team@lists.example.org>.\n",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("team@lists.example.org", "rejected")


def test_verizon_mms_gateway() -> None:
    raw = _msg(
        """
From: MMSC NDR Administrator <sysadmin@m01.vzwpix.com>
Subject: Undeliverable Message
""",
        """
Message could not be delivered to mobile.
Error: No valid recipients for this MM

Original Message:
From: alice <alice@example.org>
To: 5555550100@vzwpix.com
""",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("5555550100@vzwpix.com", "userunknown")


def test_opensmtpd_reads_each_recipient_line() -> None:
    raw = _msg(
        """
From: Mailer Daemon <MAILER-DAEMON@mx.example.org>
Subject: Delivery status notification: failed
Received: from mx.example.org by mx.example.org (OpenSMTPD) with ESMTPA id 1
""",
        """
    Hi!

    This is the MAILER-DAEMON, please DO NOT REPLY to this email.

bob@example.net: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown
carol@example.net: 552 5.2.2 <carol@example.net>: Recipient address rejected: Mailbox full

    Below is a copy of the original message:
""",
    )
    assert [(f.recipient, f.status, f.reason) for f in parse(raw).recipients] == [
        ("bob@example.net", "5.1.1", "userunknown"),
        ("carol@example.net", "5.2.2", "mailboxfull"),
    ]


def test_zoho_notice() -> None:
    raw = _msg(
        """
From: mailer-daemon@mail.zoho.com
Subject: Undelivered Mail Returned to Sender
X-ZohoMail: Si
""",
        """
This message was created automatically by mail delivery software.
A message that you sent could not be delivered to one or more of its recipients.

bob@example.net Error, ERROR_CODE :421, ERROR_CODE :, Host not reachable.
""",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("bob@example.net", "expired")


def test_exchange_online_ndr_without_a_dsn_part() -> None:
    raw = _msg(
        """
From: <postmaster@example.onmicrosoft.com>
Subject: Undeliverable: hello
""",
        """
Delivery has failed to these recipients or groups:

bob@example.net
The email address wasn't found at the destination domain.

Diagnostic information for administrators:

Generating server: AB1PR01MB0001.prod.outlook.com

bob@example.net
Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'

Original message headers:
""",
    )
    f = _one(raw)
    assert (f.status, f.reason, f.remote_mta) == ("5.1.10", "userunknown", "AB1PR01MB0001.prod.outlook.com")


def test_messagelabs_reason_line() -> None:
    raw = _msg(
        """
From: Mail Delivery System <MAILER-DAEMON@messagelabs.com>
Subject: Mail Delivery Failure
X-Msg-Ref: server-1.tower-1.messagelabs.com!1!1!1
""",
        """
This is the mail delivery agent at Symantec Email Security.cloud.

I was unable to deliver your message to the following addresses:

bob@example.net

Reason: 542 bob@example.net Rejected

The message subject was: hello
""",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("bob@example.net", "userunknown")


def test_postfix_smtpd_error_transcript() -> None:
    raw = _msg(
        """
From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Postfix SMTP server: errors from client.example.net[192.0.2.9]
""",
        """
Transcript of session follows.

 Out: 220 mx.example.org ESMTP
 In:  MAIL FROM:<alice@example.net>
 Out: 250 2.1.0 Ok
 In:  RCPT TO:<bob@example.org>
 Out: 250 2.1.5 Ok
 In:  DATA
 Out: 354 End data with <CR><LF>.<CR><LF>
 Out: 451 4.3.0 Error: queue file write error
""",
    )
    f = _one(raw)
    assert (f.recipient, f.status, f.command, f.reason) == ("bob@example.org", "4.3.0", "DATA", "systemerror")


def test_exim_pipe_delivery_failure_is_a_mailer_error() -> None:
    raw = _msg(
        """
From: Mail Delivery System <Mailer-Daemon@mx.example.org>
Subject: Mail delivery failed: returning message to sender
X-Failed-Recipients: bob@example.org
""",
        """
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  pipe to |/usr/local/bin/autoresponder
    generated by bob@example.org

The following text was generated during the delivery attempt:

------ pipe to |/usr/local/bin/autoresponder
       generated by bob@example.org ------

autoresponder: cannot open template: No such file or directory

------ This is a copy of the message, including all the headers. ------
""",
    )
    assert (_one(raw).recipient, _one(raw).reason) == ("bob@example.org", "mailererror")


def test_courier_own_text() -> None:
    raw = _msg(
        """
From: Courier mail server at mx.example.org <@>
Subject: NOTICE: mail delivery status.
Content-Type: multipart/report; report-type=delivery-status; boundary="B"
""",
        """
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; bob@example.invalid
Action: failed
Status: 5.0.0
Diagnostic-Code: unknown; No such domain.

--B--
""",
    )
    assert _one(raw).reason == "hostunknown"


def test_amazon_ses_notifications_through_sns() -> None:
    ses = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {"emailAddress": "bob@example.net", "action": "failed", "status": "5.1.1",
                 "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
            ],
            "reportingMTA": "dsn; a1.smtp-out.example.amazonses.com",
        },
    }  # fmt: skip
    envelope = json.dumps({"Type": "Notification", "Message": json.dumps(ses)}, indent=1)
    bounce = _msg("From: SES <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message", envelope)
    f = _one(bounce)
    assert (f.recipient, f.status, f.reason) == ("bob@example.net", "5.1.1", "userunknown")

    complaint = {
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "bob@example.net"}],
            "complaintFeedbackType": "abuse",
        },
    }
    report = parse(
        _msg(
            "From: SES <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message", json.dumps(complaint)
        )
    )
    assert report.kind == "feedback" and report.recipients[0].feedback_type == "abuse"

    delivery = {
        "notificationType": "Delivery",
        "delivery": {"recipients": ["bob@example.net"], "smtpResponse": "250 2.6.0 Message received"},
    }
    report = parse(
        _msg(
            "From: SES <no-reply@sns.amazonaws.com>\nSubject: AWS Notification Message", json.dumps(delivery)
        )
    )
    assert report.kind == "delivered" and not report.is_bounce
    assert (report.recipients[0].status, report.recipients[0].reason) == ("2.6.0", "delivered")


def test_microsoft_jmrp_complaint_and_apple_unsubscribe_are_feedback() -> None:
    jmrp = _msg(
        """
From: staff@hotmail.com
Subject: complaint about message from 192.0.2.1
Content-Type: multipart/mixed; boundary="B"
""",
        """
--B
Content-Type: message/rfc822

X-HmXmrOriginalRecipient: bob@example.net
From: alice@example.org
To: bob@example.net

--B--
""",
    )
    report = parse(jmrp)
    assert report.kind == "feedback" and report.recipients[0].recipient == "bob@example.net"
    unsubscribe = _msg(
        "From: bob@example.net\nTo: unsubscribe-123@lists.example.org\nSubject: unsubscribe\n"
        "Auto-Submitted: auto-replied\nX-Apple-Unsubscribe: true",
        "Apple Mail sent this email to unsubscribe from the message.\n",
    )
    f = _one(unsubscribe)
    assert (f.recipient, f.reason, f.feedback_type) == ("bob@example.net", "feedback", "opt-out")
