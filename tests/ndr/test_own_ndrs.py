"""The explainer reads Outguard's own NDRs back exactly, with the catalogue's remedy for our codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from outguard import codes
from outguard.ndr import explain
from outguard.ndr.build import ReportedRecipient, build_report

ORIGINAL = (
    b"From: Alice <alice@acme.example>\r\nTo: bob@example.org\r\nSubject: Numbers\r\n"
    b"Message-ID: <n1@acme.example>\r\n\r\nHello\r\n"
)


def _ndr(recipients: list[ReportedRecipient], ret: str | None = None) -> bytes:
    return build_report(
        original=ORIGINAL,
        sender="alice@acme.example",
        recipients=recipients,
        reporting_mta="gw.outguard.test",
        arrival=datetime.now(UTC),
        postmaster="postmaster@gw.outguard.test",
        ret=ret,
        queue_id="Q1",
    )


@pytest.mark.parametrize("code", codes.OUTGUARD_CODES, ids=lambda c: c.enhanced)
def test_own_ndr_for_every_outguard_code_is_read_back_exactly(code: codes.StatusCode) -> None:
    reply = code.reply_line(recipients="bob@example.org")
    raw = _ndr([ReportedRecipient("bob@example.org", "failed", code.enhanced, reply)])
    result = explain(raw).to_dict()
    assert result["is_bounce"] and result["kind"] == "bounce"
    assert result["reporting_mta"] == "gw.outguard.test"
    [r] = result["recipients"]
    # A reply code whose class contradicts the status (550 with 4.4.7) is not one an MTA would trust.
    reply_code = str(code.reply) if str(code.reply)[0] == code.enhanced[0] else None
    assert (r["recipient"], r["status"], r["reply_code"]) == ("bob@example.org", code.enhanced, reply_code)
    assert r["reason"] == code.reason
    assert r["explanation"] == {
        "summary": code.cause,
        "sender_fix": code.sender_fix,
        "admin_fix": code.admin_fix,
    }
    # The human part of our own NDR says the same as the explainer.
    assert code.sender_fix.split(".")[0].encode() in raw.replace(b"=\r\n", b"")


def test_remote_failures_in_our_ndrs_keep_status_and_reason() -> None:
    raw = _ndr(
        [
            ReportedRecipient(
                "gone@example.org",
                "failed",
                "5.1.1",
                "550 5.1.1 <gone@example.org>: Recipient address "
                "rejected: User unknown in virtual mailbox table",
                remote_mta="mx.example.org",
            ),
            ReportedRecipient(
                "full@example.net", "failed", "5.2.2", "552 5.2.2 Mailbox full", remote_mta="mx.example.net"
            ),
        ],
        ret="HDRS",
    )
    got = {
        r["recipient"]: (r["status"], r["reason"], r["remote_mta"])
        for r in explain(raw).to_dict()["recipients"]
    }
    assert got == {
        "gone@example.org": ("5.1.1", "userunknown", "mx.example.org"),
        "full@example.net": ("5.2.2", "mailboxfull", "mx.example.net"),
    }


def test_expired_and_delayed_reports() -> None:
    expired = explain(
        _ndr(
            [
                ReportedRecipient(
                    "x@example.org",
                    "failed",
                    "4.4.7",
                    "Message expired: delivery was "
                    "retried until the queue lifetime ran out (last error: 451 4.3.0 "
                    "try later)",
                )
            ]
        )
    ).to_dict()
    assert expired["recipients"][0]["reason"] == "expired"
    delayed = explain(_ndr([ReportedRecipient("x@example.org", "delayed", "4.3.0", "451 4.3.0 try later")]))
    assert delayed.kind == "delay" and delayed.recipients[0].failure.action == "delayed"
