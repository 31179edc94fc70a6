"""Reports agree with the trace: send a known mix of real mail through a real gateway, then check
every report's numbers against it and against the trace rows the API lists."""

from __future__ import annotations

import json
import smtplib
import time
import warnings

import pytest

from tests.support.mail import Gateway, NextHop, wait_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import httpx

pytestmark = pytest.mark.slow


def send(gw: Gateway, sender: str, recipients: list[str], source: str | None = None) -> tuple[int, str]:
    """One SMTP transaction; returns the final reply (the refusal, if any)."""
    with gw.smtp(source) as s:
        s.ehlo("client.test")
        code, reply = s.mail(sender)
        if code != 250:
            return code, reply.decode()
        for r in recipients:
            s.rcpt(r)
        try:
            code, reply = s.data(f"From: {sender}\r\nSubject: mix\r\n\r\nhello\r\n".encode())
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()
        return code, reply.decode()


def test_every_report_counts_what_the_trace_shows(make_gateway, next_hop: NextHop) -> None:
    gw = make_gateway()
    gw.cli("tenant", "add", "acme")
    gw.cli("domain", "add", "acme", "acme.example", "--verified")
    gw.cli("connector", "add", "acme", "office", "--ip", "127.0.0.1")
    gw.cli("tenant", "set", "acme", "--tabl-mode", "whole-message")
    gw.cli("tabl", "add", "acme", "--block", "blocked@bad.example")
    # One unregistered-domain message is allowed, the second is refused with 5.7.750.
    op = gw.cli("apikey", "create", "--operator").stdout.strip().splitlines()[-1]
    key = gw.cli("apikey", "create", "--tenant", "acme").stdout.strip().splitlines()[-1]
    next_hop.rules["reject"] = "550 5.1.1 <reject@example.org>: Recipient address rejected: User unknown"
    gw.start()
    web = httpx.Client(base_url=f"http://127.0.0.1:{gw.http_port}", timeout=30)
    r = web.patch(
        "/api/v1/tenants/acme",
        json={"limits": {"unregistered_allowance": 1}},
        headers={"Authorization": f"Bearer {op}"},
    )
    assert r.status_code == 200, r.text
    time.sleep(0.6)  # the snapshot refreshes every 0.2 s in tests

    replies = [
        send(gw, "alice@acme.example", ["bob@example.org", "carol@example.net"]),  # 2 delivered
        send(gw, "alice@acme.example", ["ok@example.org", "blocked@bad.example"]),  # 2 refused, 5.7.703
        send(gw, "stranger@unreg.example", ["bob@example.org"]),  # unregistered, allowed: 1 delivered
        send(gw, "stranger@unreg.example", ["bob@example.org"]),  # unregistered, over allowance: 5.7.750
        send(gw, "alice@acme.example", ["reject@example.org"]),  # remote 5xx: failed delivery
        send(gw, "nobody@nowhere.example", ["bob@example.org"], source="127.0.0.2"),  # no tenant: 5.7.64
    ]
    assert [c for c, _ in replies] == [250, 550, 250, 550, 250, 550], replies
    assert "5.7.703" in replies[1][1] and "5.7.750" in replies[3][1] and "5.7.64" in replies[5][1]

    auth = {"Authorization": f"Bearer {key}"}

    def trace() -> list[dict]:
        """The tenant's trace rows, without the gateway's own NDR (null sender), which reports leave out."""
        return [r for r in web.get("/api/v1/trace?limit=100", headers=auth).json()["items"] if r["sender"]]

    wait_for(
        lambda: len(rows := trace()) == 7 and not any(r["status"] == "Pending" for r in rows),
        30,
        interval=0.3,
        what="the mix in the trace, delivered",
    )
    rows = trace()
    by_status = sorted((r["status"], r["code"]) for r in rows)
    assert by_status == sorted(
        [("Delivered", "2.0.0")] * 3
        + [("Failed", "5.7.703")] * 2
        + [("Failed", "5.7.750"), ("Failed", "5.1.1")]
    )

    def report(name: str, key_: str = key, **q: str) -> dict:
        r = web.get(
            f"/api/v1/reports/{name}", params={"days": "1", **q}, headers={"Authorization": f"Bearer {key_}"}
        )
        assert r.status_code == 200, r.text
        return r.json()

    [day] = report("mailflow")["rows"]
    assert day == {
        "date": day["date"],
        "total": len(rows),
        "good": 3,
        "spam": 0,
        "bulk": 0,
        "edge_blocked": 1,
        "tabl_blocked": 2,
        "refused_other": 0,
        "failed": 1,
    }
    # The operator's view adds the unattributed 5.7.64 refusal.
    [every] = report("mailflow", op)["rows"]
    assert every["edge_blocked"] == 2 and every["total"] == len(rows) + 1

    top = report("top-senders")
    assert {r["value"]: r["messages"] for r in top["senders"]} == {
        "alice@acme.example": 5,
        "stranger@unreg.example": 2,
    }
    assert {r["value"]: r["messages"] for r in top["recipient_domains"]} == {
        "example.org": 4,  # the 5.7.750 refusal came before any recipient
        "example.net": 1,
        "bad.example": 1,
    }

    conn = report("connectors")
    [office] = conn["connectors"]
    assert office["connector"] == "office" and office["messages"] == len(rows) and office["unregistered"] == 2
    assert office["created_by"].startswith("cli:") and office["unusual"] is False

    nad = report("non-accepted-domains")
    [row] = nad["rows"]
    assert (row["sender_domain"], row["connector"], row["messages"], row["refused"]) == (
        "unreg.example",
        "office",
        2,
        1,
    )
    assert len(row["sample_queue_ids"]) == 2
    assert {r["queue_id"] for r in rows if r["sender"] == "stranger@unreg.example"} == set(
        row["sample_queue_ids"]
    )

    spam = report("spam")
    assert spam["totals"] == {"spam": 0, "bulk": 0}

    # The CLI prints the same numbers from the same service.
    cli = json.loads(gw.cli("report", "mailflow", "--tenant", "acme", "--days", "1", "--json").stdout)
    assert cli["rows"] == [day]
    assert (
        gw.cli("report", "mailflow", "--tenant", "acme", "--days", "1", "--csv")
        .stdout.splitlines()[1]
        .startswith(day["date"])
    )

    # And the mail path fed the metrics.
    text = web.get("/metrics").text
    assert 'outguard_messages_total{code="2.0.0",outcome="accepted"} 3.0' in text
    assert 'outguard_messages_total{code="5.7.703",outcome="refused"} 1.0' in text
    assert 'outguard_messages_total{code="5.7.64",outcome="refused"} 1.0' in text
    assert 'outguard_delivery_attempts_total{result="failed"} 1.0' in text
    assert 'outguard_delivery_attempts_total{result="delivered"} 4.0' in text  # 3 and the NDR
    assert "outguard_queue_depth 0.0" in text
    assert 'outguard_policy_decision_seconds_count{stage="MAIL"}' in text
