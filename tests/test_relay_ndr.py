"""NDRs and other DSNs end to end (RFC 3464 reports, RFC 3461 parameters), read by independent parsers.

The gateway relays to a real next hop that refuses or defers chosen recipients; in smart-host mode
the gateway's reports travel through the same next hop, so that is where the tests pick them up.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.bounce import dsn_fields, flufl_failures, parse, sisimai
from tests.support.mail import Gateway, NextHop, wait_for

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

BODY = (
    b"From: Alice <alice@acme.example>\r\nTo: bob@example.org\r\nSubject: Quarterly numbers\r\n"
    b"Message-ID: <q1@acme.example>\r\n\r\nHello Bob,\r\nthe numbers are attached.\r\n"
)
USER_UNKNOWN = "550 5.1.1 <bob@example.org>: user unknown"


def _events(gw: Gateway, queue_id: str, kind: str) -> list[dict[str, Any]] | None:
    """The message's trace events once one of `kind` is among them."""
    events = gw.detail(queue_id)["events"]
    return events if any(e["kind"] == kind for e in events) else None


def _bounce(
    gw: Gateway,
    next_hop: NextHop,
    mail_options: list[str] | None = None,
    rcpt_options: list[str] | None = None,
) -> tuple[str, bytes]:
    """Send BODY to bob (whom the next hop refuses) and return (queue id, the NDR's bytes)."""
    next_hop.rules["bob@"] = USER_UNKNOWN
    queue_id = gw.send(
        "alice@acme.example", ["bob@example.org"], BODY, mail_options=mail_options, rcpt_options=rcpt_options
    )
    [ndr] = next_hop.wait_report(1)
    assert ndr.recipients == ["alice@acme.example"]
    return queue_id, ndr.data


def test_remote_permanent_failure_sends_ndr_to_sender(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway.start()
    queue_id, data = _bounce(gw, next_hop)
    msg = parse(data)
    assert msg["Subject"] == "Undeliverable: Quarterly numbers"
    assert msg["To"] == "alice@acme.example"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["In-Reply-To"] == "<q1@acme.example>"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    human, status, returned = msg.get_payload()

    # The human part, in text and HTML: what happened, why, and what each side can do.
    assert human.get_content_type() == "multipart/alternative"
    text = human.get_body(("plain",)).get_content()
    html_part = human.get_body(("html",)).get_content()
    html_text = html.unescape(re.sub(r"<[^>]+>", " ", html_part))
    for part in (text, html_text):
        assert "Your message to bob@example.org couldn't be delivered." in part
        assert "address does not exist" in part  # the cause, from the catalogue entry of 5.1.1
        assert "What you can do" in part and "What your email admin can do" in part
        assert USER_UNKNOWN in part
    assert "Quarterly numbers" in text

    # The machine part (RFC 3464 §2.2, §2.3).
    assert status.get_content_type() == "message/delivery-status"
    per_message, [rcpt] = dsn_fields(msg)
    assert per_message["Reporting-MTA"] == "dns; gw.outguard.test"
    arrival = parsedate_to_datetime(per_message["Arrival-Date"])
    assert abs((datetime.now(UTC) - arrival).total_seconds()) < 120
    assert rcpt["Final-Recipient"] == "rfc822; bob@example.org"
    assert rcpt["Action"] == "failed"
    assert rcpt["Status"] == "5.1.1"
    assert rcpt["Diagnostic-Code"] == f"smtp; {USER_UNKNOWN}"
    assert rcpt["Remote-MTA"] == "dns; 127.0.0.1"

    # The original message comes back whole (RET=FULL is the default for a failure).
    assert returned.get_content_type() == "message/rfc822"
    [original] = returned.get_payload()
    assert original["Message-ID"] == "<q1@acme.example>"
    assert "the numbers are attached." in original.get_content()

    rows = gw.wait_trace(lambda r: r and r[0]["status"] == "Failed", "--message-id", queue_id)
    assert rows[0]["code"] == "5.1.1" and rows[0]["detail"] == USER_UNKNOWN
    events = wait_for(lambda: _events(gw, queue_id, "ndr"), what="the ndr event in the trace")
    [ndr_event] = [e for e in events if e["kind"] == "ndr"]
    assert ndr_event["action"] == "failed" and ndr_event["recipients"] == ["bob@example.org"]
    # The NDR is a message of the tenant too, traced as it was sent.
    [ndr_row] = gw.wait_trace(
        lambda r: r and r[0]["status"] == "Delivered", "--message-id", ndr_event["report_queue_id"]
    )
    assert (ndr_row["tenant"], ndr_row["sender"], ndr_row["recipient"]) == ("acme", "", "alice@acme.example")
    assert ndr_row["subject"] == msg["Subject"] and ndr_row["message_id"] == msg["Message-ID"]


@SQLITE_ONLY
def test_ndr_is_read_by_sisimai_and_flufl_bounce(
    acme_gateway: Gateway, next_hop: NextHop, tmp_path: Path
) -> None:
    gw = acme_gateway.start()
    _, data = _bounce(gw, next_hop)
    [found] = sisimai(data, tmp_path)
    assert found["recipient"] == "bob@example.org"
    assert found["deliverystatus"] == "5.1.1"
    assert found["reason"] == "userunknown"
    assert found["addresser"] == "alice@acme.example"
    assert found["diagnostictype"] == "SMTP"
    assert "user unknown" in found["diagnosticcode"]
    assert flufl_failures(data) == (set(), {"bob@example.org"})


def _reports_after_marker(gw: Gateway, next_hop: NextHop) -> list[bytes]:
    """Every DSN the gateway sent so far, once a marker bounce sent now has come back.

    A report the gateway would send about earlier messages is queued before the marker is even
    sent, so waiting for the marker's NDR makes "no report" a checked fact, not a fixed sleep.
    """
    next_hop.rules["marker@"] = "550 5.1.1 <marker@example.org>: user unknown"
    before = len(next_hop.reports())
    gw.send("alice@acme.example", ["marker@example.org"], b"Subject: marker\r\n\r\nmarker\r\n")
    reports = next_hop.wait_report(before + 1)
    assert b"Subject: Undeliverable: marker" in reports[-1].data
    return [m.data for m in reports if b"Subject: Undeliverable: marker" not in m.data]


@SQLITE_ONLY
def test_expired_message_gets_ndr_with_4_4_7(
    acme_gateway: Gateway, next_hop: NextHop, tmp_path: Path
) -> None:
    # Only bob is deferred, so the NDR to alice can still get through the same next hop.
    next_hop.rules["bob@"] = "451 4.3.0 try later"
    gw = acme_gateway
    gw.env["OUTGUARD_DELIVERY__EXPIRY"] = "3s"  # retried every second (gateway_env), then expired
    gw.start()
    queue_id = gw.send("alice@acme.example", ["bob@example.org"], BODY)
    [ndr] = next_hop.wait_report(1, timeout=20)
    msg = parse(ndr.data)
    assert msg["Subject"] == "Undeliverable: Quarterly numbers"
    _, [rcpt] = dsn_fields(msg)
    assert rcpt["Action"] == "failed" and rcpt["Status"] == "4.4.7"
    assert "451 4.3.0 try later" in rcpt["Diagnostic-Code"]  # the last error the next hop gave

    [found] = sisimai(ndr.data, tmp_path)
    assert found["recipient"] == "bob@example.org" and found["reason"] == "expired"
    temporary, permanent = flufl_failures(ndr.data)
    assert "bob@example.org" in temporary | permanent

    rows = gw.wait_trace(lambda r: r and r[0]["status"] == "Failed", "--message-id", queue_id)
    assert rows[0]["code"] == "4.4.7"
    [recipient] = gw.detail(queue_id)["recipients"]
    assert recipient["attempts"] >= 2


@SQLITE_ONLY
def test_ret_hdrs_returns_only_the_headers(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway.start()
    _, data = _bounce(gw, next_hop, mail_options=["RET=HDRS"])
    *_, returned = parse(data).get_payload()
    assert returned.get_content_type() == "text/rfc822-headers"
    headers = returned.get_content()
    assert "Subject: Quarterly numbers" in headers and "Message-ID: <q1@acme.example>" in headers
    assert "the numbers are attached" not in data.decode()


@SQLITE_ONLY
def test_envid_and_orcpt_are_reported(acme_gateway: Gateway, next_hop: NextHop, tmp_path: Path) -> None:
    gw = acme_gateway.start()
    _, data = _bounce(
        gw,
        next_hop,
        mail_options=["ENVID=xyz+2B1"],  # xtext: "xyz+1" (RFC 3461 §4)
        rcpt_options=["ORCPT=rfc822;Original@Example.org"],
    )
    per_message, [rcpt] = dsn_fields(parse(data))
    assert per_message["Original-Envelope-Id"] == "xyz+1"
    assert rcpt["Original-Recipient"] == "rfc822;Original@Example.org"
    assert rcpt["Final-Recipient"] == "rfc822; bob@example.org"
    [found] = sisimai(data, tmp_path)
    assert found["recipient"] == "bob@example.org" and found["reason"] == "userunknown"


@SQLITE_ONLY
def test_notify_never_sends_no_ndr(acme_gateway: Gateway, next_hop: NextHop) -> None:
    next_hop.rules["bob@"] = USER_UNKNOWN
    gw = acme_gateway.start()
    queue_id = gw.send("alice@acme.example", ["bob@example.org"], BODY, rcpt_options=["NOTIFY=NEVER"])
    gw.wait_trace(lambda r: r and r[0]["status"] == "Failed", "--message-id", queue_id)
    assert _reports_after_marker(gw, next_hop) == []
    assert not any(e["kind"] == "ndr" for e in gw.detail(queue_id)["events"])


@SQLITE_ONLY
def test_no_ndr_for_a_message_from_the_null_sender(acme_gateway: Gateway, next_hop: NextHop) -> None:
    next_hop.rules["bob@"] = USER_UNKNOWN
    gw = acme_gateway.start()
    queue_id = gw.send("", ["bob@example.org"], BODY)  # e.g. a bounce the tenant's server relays
    gw.wait_trace(lambda r: r and r[0]["status"] == "Failed", "--message-id", queue_id)
    assert _reports_after_marker(gw, next_hop) == []
    assert not any(e["kind"] == "ndr" for e in gw.detail(queue_id)["events"])


@SQLITE_ONLY
def test_notify_success_via_next_hop_without_dsn_sends_relayed_dsn(
    acme_gateway: Gateway, next_hop: NextHop
) -> None:
    gw = acme_gateway.start()
    gw.send(
        "alice@acme.example",
        ["bob@example.org"],
        BODY,
        mail_options=["ENVID=track-1"],
        rcpt_options=["NOTIFY=SUCCESS,FAILURE"],
    )
    [relayed] = next_hop.wait_report(1)
    [delivered] = [m for m in next_hop.messages if m.recipients == ["bob@example.org"]]
    assert not any(o.startswith("ENVID=") for o in delivered.mail_options)  # the hop offers no DSN
    msg = parse(relayed.data)
    assert relayed.recipients == ["alice@acme.example"]
    assert msg["Subject"] == "Relayed: Quarterly numbers"
    per_message, [rcpt] = dsn_fields(msg)
    assert per_message["Original-Envelope-Id"] == "track-1"
    assert rcpt["Action"] == "relayed" and rcpt["Status"].startswith("2.")
    assert "Your message to bob@example.org was relayed." in msg.get_body(("plain",)).get_content()
    assert flufl_failures(relayed.data) == (set(), set())  # a success is not a bounce


@SQLITE_ONLY
def test_dsn_parameters_are_passed_to_a_next_hop_that_offers_dsn(
    acme_gateway: Gateway, next_hop: NextHop
) -> None:
    next_hop.advertise_dsn = True
    gw = acme_gateway.start()
    with gw.smtp() as s:
        s.ehlo("client.acme.example")
        assert s.mail("alice@acme.example", ["RET=HDRS", "ENVID=xyz+2B1"])[0] == 250
        assert (
            s.rcpt("bob@example.org", ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Original@Example.org"])[0]
            == 250
        )
        assert s.rcpt("carol@example.org", ["NOTIFY=NEVER"])[0] == 250
        assert s.rcpt("dave@example.org", ["NOTIFY=DELAY"])[0] == 250
        assert s.data(BODY)[0] == 250
    [msg] = next_hop.wait(1)
    assert msg.recipients == ["bob@example.org", "carol@example.org", "dave@example.org"]
    assert sorted(msg.mail_options) == ["ENVID=xyz+2B1", "RET=HDRS", f"SIZE={len(msg.data)}"]
    assert msg.rcpt_options == [
        "NOTIFY=SUCCESS,FAILURE",
        "ORCPT=rfc822;Original@Example.org",
        "NOTIFY=NEVER",
        "NOTIFY=DELAY",
    ]
    # The next hop carries NOTIFY=SUCCESS further: the gateway sends no "relayed" DSN of its own.
    assert _reports_after_marker(gw, next_hop) == []


@SQLITE_ONLY
def test_delay_notice_when_delivery_is_deferred_past_delay_notice(
    acme_gateway: Gateway, next_hop: NextHop
) -> None:
    next_hop.rules["bob@"] = "451 4.3.0 try later"
    gw = acme_gateway
    gw.env["OUTGUARD_DELIVERY__DELAY_NOTICE"] = "2s"
    gw.start()
    queue_id = gw.send("alice@acme.example", ["bob@example.org"], BODY)
    [notice] = next_hop.wait_report(1, timeout=20)
    msg = parse(notice.data)
    assert msg["Subject"] == "Delayed: Quarterly numbers"
    assert msg["Auto-Submitted"] == "auto-replied"
    _, [rcpt] = dsn_fields(msg)
    assert rcpt["Action"] == "delayed" and rcpt["Status"] == "4.3.0"
    assert rcpt["Will-Retry-Until"] and "451 4.3.0 try later" in rcpt["Diagnostic-Code"]
    assert "Delivery to bob@example.org has been delayed." in msg.get_body(("plain",)).get_content()
    *_, returned = msg.get_payload()
    assert returned.get_content_type() == "text/rfc822-headers"  # a delay notice returns headers only
    assert flufl_failures(notice.data) == ({"bob@example.org"}, set())
    # The message itself is still queued and retried.
    rows = gw.trace("--message-id", queue_id)
    assert rows[0]["status"] == "Pending"


@SQLITE_ONLY
@pytest.mark.parametrize(
    "subject_header",
    [
        pytest.param(b"Subject: =?utf-8?q?R=C3=A9sum=C3=A9_f=C3=BCr?= Bob", id="RFC 2047"),
        pytest.param("Subject: Résumé für Bob".encode(), id="raw UTF-8"),  # RFC 6532, SMTPUTF8 clients
    ],
)
def test_ndr_shows_a_non_ascii_subject_readably(
    acme_gateway: Gateway, next_hop: NextHop, subject_header: bytes
) -> None:
    gw = acme_gateway.start()
    body = BODY.replace(b"Subject: Quarterly numbers", subject_header)
    next_hop.rules["bob@"] = USER_UNKNOWN
    gw.send("alice@acme.example", ["bob@example.org"], body, mail_options=["SMTPUTF8"])
    [ndr] = next_hop.wait_report(1)
    msg = parse(ndr.data)
    assert msg["Subject"] == "Undeliverable: Résumé für Bob"
    assert "Subject:        Résumé für Bob" in msg.get_body(("plain",)).get_content()
    assert "Résumé für Bob" in html.unescape(msg.get_body(("html",)).get_content())
