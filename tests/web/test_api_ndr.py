"""`POST /api/v1/ndr/explain`: the bounce explainer over the API."""

from __future__ import annotations

from tests.web.conftest import Api, error

BOUNCE = (
    b"From: MAILER-DAEMON@mx.example.org\r\nTo: alice@acme.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be delivered.\r\n\r\n"
    b"--XX\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
    b"Final-Recipient: rfc822; nobody@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown\r\n\r\n"
    b"--XX--\r\n"
)


def test_explain_needs_a_key_and_a_body(api: Api) -> None:
    error(api.post("/api/v1/ndr/explain", key=None, content=BOUNCE), 401)
    assert "body is empty" in error(api.post("/api/v1/ndr/explain", key="acme", content=b""), 422)


def test_explain_a_bounce(api: Api) -> None:
    r = api.post(
        "/api/v1/ndr/explain", key="acme", content=BOUNCE, headers={"Content-Type": "message/rfc822"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["is_bounce"] is True and body["reporting_mta"] == "mx.example.org"
    [rcpt] = body["recipients"]
    assert rcpt["recipient"] == "nobody@example.org" and rcpt["status"] == "5.1.1"
    assert set(rcpt["explanation"]) == {"summary", "sender_fix", "admin_fix"}
