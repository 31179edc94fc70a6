"""Receiving providers' documented wording, local delivery agents, and how a provider is recognised."""

from __future__ import annotations

import pytest

from outguard.ndr import lda, parse
from outguard.ndr.parse import Failure
from outguard.ndr.reasons import Evidence
from outguard.ndr.remote import find, provider


def _postfix_dsn(rcpt: str, remote: str, status: str, diag: str, command: str = "RCPT TO") -> bytes:
    return f"""From: MAILER-DAEMON@mx.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.example.org.

<{rcpt}>: host {remote}[192.0.2.1] said: {diag} (in reply to {command} command)

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {rcpt}
Action: failed
Status: {status}
Remote-MTA: dns; {remote}
Diagnostic-Code: smtp; {diag}

--B--
""".encode()


@pytest.mark.parametrize(
    ("rcpt", "remote", "status", "diag", "reason"),
    [
        # Google: reply code, status code and wording together.
        (
            "bob@example.net",
            "gmail-smtp-in.l.google.com",
            "5.2.1",
            "550 5.2.1 The user you are trying to contact is receiving mail at a rate that prevents "
            "additional messages from being delivered.",
            "speeding",
        ),
        # Yahoo: TSS04 deferrals are about the sender, whatever the code says.
        (
            "bob@example.net",
            "mta5.am0.yahoodns.net",
            "4.7.0",
            "421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user "
            "complaints",
            "rejected",
        ),
        # Cox: the AUP# code.
        ("bob@cox.net", "mx.cox.net", "5.1.0", "550 5.1.0 sender rejected. AUP#CXBL", "blocked"),
        # GoDaddy: the IB code.
        (
            "bob@example.net",
            "smtp.secureserver.net",
            "5.1.1",
            "550 5.1.1 <bob@example.net> 192.0.2.1 has sent to too many recipients this hour. IB607",
            "speeding",
        ),
        # Orange: the OFR_/LPN tag.
        (
            "bob@wanadoo.fr",
            "smtp-in.orange.fr",
            "5.7.1",
            "554 5.7.1 <client.example.net>: Client host rejected LPN000_630",
            "policyviolation",
        ),
        # Facebook: RCP-P2, the recipient's preferences.
        (
            "bob@facebook.com",
            "mx.facebook.com",
            "5.1.1",
            "550 5.1.1 RCP-P2 Refused due to recipient preferences",
            "filtered",
        ),
        # Tencent: frequency limits.
        ("bob@qq.com", "mx3.qq.com", "5.0.0", "550 Ip frequency limited", "toomanyconn"),
        # Mimecast: reply code and wording.
        (
            "bob@example.net",
            "us-smtp-inbound-1.mimecast.com",
            "5.0.0",
            "554 Host network not allowed",
            "policyviolation",
        ),
        # KDDI au: "550 : User unknown" is the recipient's own filter.
        ("bob@ezweb.ne.jp", "lsean.ezweb.ne.jp", "5.0.0", "550 : User unknown", "filtered"),
    ],
)
def test_provider_wording_decides(rcpt: str, remote: str, status: str, diag: str, reason: str) -> None:
    (f,) = parse(_postfix_dsn(rcpt, remote, status, diag)).recipients
    assert f.reason == reason, f.diagnostic


def test_same_wording_elsewhere_is_read_by_the_generic_rules() -> None:
    # "550 : User unknown" from a server that is not KDDI's, answering RCPT: the address is unknown.
    (f,) = parse(_postfix_dsn("bob@example.net", "mx.example.net", "5.0.0", "550 : User unknown")).recipients
    assert f.reason == "userunknown"


def test_provider_is_recognised_by_domain_remote_host_or_text() -> None:
    assert provider(Failure(recipient="bob@icloud.com")).name == "Apple"
    assert provider(Failure(recipient="bob@example.net", remote_mta="mx1.mail.aol.com")).name == "Aol"
    text = "550 5.4.1 Recipient address rejected: Access denied [AB1.eurprd01.prod.protection.outlook.com]"
    assert provider(Failure(recipient="bob@example.net", diagnostic=text)).name == "Microsoft"
    assert provider(Failure(recipient="bob@example.net", remote_mta="mx.example.net")) is None


def test_provider_rules_need_an_error_text() -> None:
    ev = Evidence(status="5.1.1", diagnostic="", reply_code="550")
    assert find(Failure(recipient="bob@gmail.com"), None, ev) == ""


@pytest.mark.parametrize(
    ("text", "command", "reason"),
    [
        ("mail.local: unknown user: bob", "", "userunknown"),
        ("Your message to <bob@example.org> was automatically rejected: Quota exceeded", "", "mailboxfull"),
        ('554 "|exec /usr/bin/procmail -f- || exit 75"... Service unavailable', "DATA", "systemerror"),
        ("procmail: Couldn't create /var/mail/bob", "", "mailererror"),
        ("vdelivermail: account is locked email bounced", "", "suspend"),
        # Before DATA no delivery agent has run: not its words.
        ("mail.local: unknown user: bob", "RCPT", ""),
        ("550 5.1.1 user unknown", "", ""),
    ],
)
def test_local_delivery_agents(text: str, command: str, reason: str) -> None:
    assert lda.find(text, command) == reason


def test_powermta_bounce_category() -> None:
    raw = b"""From: MAILER-DAEMON@mta.example.org
Subject: Delivery report
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mta.example.org

Final-Recipient: rfc822;bob@example.net
Action: failed
Status: 5.0.0
Diagnostic-Code: smtp;554 rejected
X-PowerMTA-BounceCategory: quota-issues

--B--
"""
    (f,) = parse(raw).recipients
    assert f.reason == "mailboxfull"
