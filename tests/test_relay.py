"""The relay end to end: a real `outguard serve` process, a real SMTP client, a real next hop.

Each test drives the gateway only through its public interfaces (SMTP, the CLI, the trace) and
runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import smtplib
import time

import pytest

from tests.support.mail import Gateway, NextHop, wait_for

BODY = (
    b"From: Alice <alice@acme.example>\r\nTo: bob@example.org\r\nSubject: Quarterly numbers\r\n"
    b"Message-ID: <q1@acme.example>\r\n\r\nHello Bob,\r\n.leading dot line\r\n\r\nr\xc3\xa9sum\xc3\xa9 attached\r\n"
)


def test_message_is_delivered_with_body_intact(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway.start()
    with gw.smtp() as s:
        s.ehlo("client.acme.example")
        code, reply = s.mail("alice@acme.example")
        assert (code, reply) == (250, b"2.1.0 Ok")
        s.rcpt("bob@example.org")
        code, reply = s.data(BODY)
    assert code == 250
    queue_id = reply.decode().rsplit(" ", 1)[1]
    assert reply.decode() == f"2.0.0 Ok: queued as {queue_id}"
    [msg] = next_hop.wait(1)
    assert msg.sender == "alice@acme.example" and msg.recipients == ["bob@example.org"]
    assert msg.data.startswith(b"Received: from client.acme.example ([127.0.0.1])")
    assert f"id {queue_id}".encode() in msg.data.split(BODY[:10])[0]
    assert msg.data.endswith(BODY)  # byte for byte, dot-stuffing undone, 8-bit kept
    rows = gw.wait_trace(lambda r: r and r[0]["status"] == "Delivered", "--tenant", "acme")
    row = rows[0]
    assert row["queue_id"] == queue_id and row["message_id"] == "<q1@acme.example>"
    assert (
        row["tenant"] == "acme"
        and row["sender"] == "alice@acme.example"
        and row["recipient"] == "bob@example.org"
    )
    assert row["subject"] == "Quarterly numbers" and row["code"] == "2.0.0"
    assert row["received"].endswith("Z")


def test_whole_message_refused_when_any_recipient_is_blocked(
    acme_gateway: Gateway, next_hop: NextHop
) -> None:
    gw = acme_gateway
    gw.cli("tabl", "add", "acme", "--block", "evil@bad.example", "*.spam.example")
    gw.start()
    with gw.smtp() as s:
        s.ehlo("client")
        s.mail("alice@acme.example")
        for r in ("ok@example.org", "x@mail.spam.example", "friend@example.net", "EVIL@bad.example"):
            assert s.rcpt(r)[0] == 250  # whole-message mode decides at DATA, when all recipients are known
        code, reply = s.docmd("DATA")
    assert code == 550
    assert reply.decode() == (
        "5.7.703 Your message can't be delivered because messages to x@mail.spam.example, "
        "EVIL@bad.example are blocked by your organization using Tenant Allow Block List"
    )
    rows = gw.wait_trace(lambda r: len(r) == 4, "--tenant", "acme", "--status", "Failed")
    assert {r["code"] for r in rows} == {"5.7.703"}
    time.sleep(0.5)
    assert next_hop.messages == []


def test_per_recipient_mode_refuses_only_blocked_recipients(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway
    gw.cli("tenant", "set", "acme", "--tabl-mode", "per-recipient")
    gw.cli("tabl", "add", "acme", "--block", "bad.example")
    gw.start()
    with gw.smtp() as s:
        s.ehlo("client")
        s.mail("alice@acme.example")
        assert s.rcpt("ok@example.org")[0] == 250
        code, reply = s.rcpt("someone@bad.example")
        assert code == 550
        assert reply.decode() == (
            "5.7.703 Your message can't be delivered because messages to someone@bad.example "
            "are blocked by your organization using Tenant Allow Block List"
        )
        assert s.rcpt("x@sub.bad.example")[0] == 250  # a domain entry does not cover subdomains
        assert s.data(BODY)[0] == 250
    [msg] = next_hop.wait(1)
    assert msg.recipients == ["ok@example.org", "x@sub.bad.example"]
    rows = gw.wait_trace(
        lambda r: len(r) == 3 and all(x["status"] != "Pending" for x in r), "--tenant", "acme"
    )
    status = {r["recipient"]: (r["status"], r["code"]) for r in rows}
    assert status["someone@bad.example"] == ("Failed", "5.7.703")
    assert status["ok@example.org"][0] == "Delivered"


def test_unregistered_sender_domain_allowance_then_refusal(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway
    gw.env["OUTGUARD_POLICY__UNREGISTERED_ALLOWANCE"] = "3"
    gw.cli("domain", "add", "acme", "pending.example")  # accepted but not verified: still unregistered
    gw.start()
    senders = ["app@other.example", "app@pending.example", "x@other.example"]
    for sender in senders:
        with gw.smtp() as s:
            s.ehlo("client")
            assert s.mail(sender)[0] == 250
            s.rcpt("bob@example.org")
            assert s.data(BODY)[0] == 250
    with gw.smtp() as s:
        s.ehlo("client")
        code, reply = s.mail("app@other.example")
        assert (code, reply.decode()) == (550, "5.7.750 Client blocked from sending from unregistered domain")
        # Verified-domain mail and the null sender (bounces) are not counted and still flow.
        assert s.mail("alice@acme.example")[0] == 250
        s.rcpt("bob@example.org")
        assert s.data(BODY)[0] == 250
        assert s.mail("<>")[0] == 250
        s.rcpt("bob@example.org")
        assert s.data(BODY)[0] == 250
    next_hop.wait(5)
    rows = gw.wait_trace(lambda r: any(x["code"] == "5.7.750" for x in r), "--tenant", "acme")
    [refused] = [r for r in rows if r["code"] == "5.7.750"]
    assert (
        refused["status"] == "Failed"
        and refused["recipient"] is None
        and refused["sender"] == "app@other.example"
    )


def test_unattributed_client_is_refused_and_relay_tricks_fail(
    acme_gateway: Gateway, next_hop: NextHop
) -> None:
    gw = acme_gateway.start()
    tricks = [
        "bob%example.org@gw.outguard.test",
        "@gw.outguard.test:bob@example.org",
        '"bob@example.org"@gw.outguard.test',
        "bob@example.org@gw.outguard.test",
        "bob!example.org@gw.outguard.test",
        "bob@[192.0.2.1]",
    ]
    with gw.smtp(source="127.0.0.2") as s:  # 127.0.0.2 is in no connector
        s.ehlo("stranger")
        code, reply = s.mail("alice@acme.example")
        assert (code, reply.decode()) == (550, "5.7.64 TenantAttribution; Relay Access Denied")
        for trick in tricks:
            assert s.mail("")[0] == 550
            assert s.docmd(f"RCPT TO:<{trick}>")[0] in (503, 553, 501)  # never 250: no transaction exists
    # An attributed client cannot use the tricks to reach anything but public host names either.
    with gw.smtp() as s:
        s.ehlo("client")
        s.mail("alice@acme.example")
        assert s.docmd("RCPT TO:<bob@example.org@gw.outguard.test>")[0] == 553
        assert s.docmd("RCPT TO:<bob@[192.0.2.1]>")[0] == 550
        assert s.docmd("RCPT TO:<postmaster@localhost>")[0] == 550
    time.sleep(0.3)
    assert next_hop.messages == []
    rows = gw.wait_trace(lambda r: any(x["code"] == "5.7.64" for x in r))
    assert all(r["tenant"] is None for r in rows if r["code"] == "5.7.64")


def test_oversize_is_refused(make_gateway, next_hop: NextHop) -> None:
    gw = make_gateway(OUTGUARD_SMTP__MAX_MESSAGE_SIZE="20000")
    gw.cli("tenant", "add", "acme")
    gw.cli("domain", "add", "acme", "acme.example", "--verified")
    gw.cli("connector", "add", "acme", "office", "--ip", "127.0.0.1")
    gw.start()
    with gw.smtp() as s:
        s.ehlo("client")
        assert s.has_extn("size") and s.esmtp_features["size"] == "20000"
        code, reply = s.docmd("MAIL FROM:<alice@acme.example> SIZE=50000")
        assert (code, reply.decode()) == (552, "5.3.4 Message size exceeds fixed maximum message size")
        s.mail("alice@acme.example")
        s.rcpt("bob@example.org")
        code, reply = s.data(b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n" * 1 + (b"y" * 998 + b"\r\n") * 30)
        assert (code, reply.decode()) == (552, "5.3.4 Message size exceeds fixed maximum message size")
        # The session goes on normally afterwards.
        s.mail("alice@acme.example")
        s.rcpt("bob@example.org")
        assert s.data(BODY)[0] == 250
    assert len(next_hop.wait(1)) == 1


def test_message_survives_kill_9_and_is_delivered_after_restart(
    acme_gateway: Gateway, next_hop: NextHop
) -> None:
    next_hop.stop()  # the next hop is down: the message must wait in the spool
    gw = acme_gateway.start()
    with gw.smtp() as s:
        s.ehlo("client")
        s.mail("alice@acme.example")
        s.rcpt("bob@example.org")
        code, reply = s.data(BODY)
    assert code == 250
    queue_id = reply.decode().rsplit(" ", 1)[1]
    gw.kill()
    revived = NextHop(port=next_hop.port).start()
    try:
        gw.start()
        [msg] = revived.wait(1, timeout=20)
        assert msg.data.endswith(BODY)
        rows = gw.wait_trace(lambda r: r and r[0]["status"] == "Delivered", "--message-id", queue_id)
        assert rows[0]["queue_id"] == queue_id
    finally:
        revived.stop()


def test_sigterm_drains_and_exits_cleanly(acme_gateway: Gateway, next_hop: NextHop) -> None:
    gw = acme_gateway.start()
    with gw.smtp() as s:
        s.ehlo("client")
        s.mail("alice@acme.example")
        s.rcpt("bob@example.org")
        assert s.data(BODY)[0] == 250
    next_hop.wait(1)
    assert gw.stop() == 0
    assert "stopped (process 0)" in gw.log.read_text()


def test_enhanced_status_codes_on_every_reply(acme_gateway: Gateway) -> None:
    gw = acme_gateway.start()
    with gw.smtp() as s:
        code, reply = s.ehlo("client")
        features = reply.decode().split("\n")
        for ext in ("PIPELINING", "ENHANCEDSTATUSCODES", "DSN", "8BITMIME", "SMTPUTF8", "STARTTLS"):
            assert any(f.startswith(ext) for f in features), ext
        assert not any(f.startswith("AUTH") for f in features)  # AUTH only after TLS
        replies = [
            s.docmd("NOOP"),
            s.docmd("RCPT TO:<x@example.org>"),
            s.docmd("DATA"),
            s.docmd("MAIL FROM:bad"),
            s.docmd("VRFY bob"),
            s.docmd("FROB"),
            s.docmd("MAIL FROM:<alice@acme.example> FOO=1"),
            s.mail("alice@acme.example"),
            s.docmd("MAIL FROM:<alice@acme.example>"),
            s.rcpt("bob@example.org"),
            s.docmd("RCPT TO:<bob@example.org> NOTIFY=SOMETIMES"),
            s.docmd("RSET"),
            s.docmd("AUTH PLAIN AGFsaWNlAHBhc3N3b3Jk"),
        ]
        for code, text in replies:
            assert text.decode()[:1] == str(code)[0] and text.decode()[1] == ".", (code, text)
        code, text = s.docmd("QUIT")
        assert (code, text.decode()) == (221, "2.0.0 Bye")


def test_too_many_connections_get_421(make_gateway) -> None:
    gw = make_gateway(OUTGUARD_SMTP__MAX_CONNECTIONS="2")
    gw.start()
    first, second = gw.smtp(), gw.smtp()
    try:
        with pytest.raises(smtplib.SMTPConnectError) as err:
            gw.smtp()
        assert err.value.smtp_code == 421 and err.value.smtp_error.decode().startswith("4.7.0")
    finally:
        first.close()
        second.close()

    def slot_free() -> bool:
        try:
            with gw.smtp() as s:
                return s.noop()[0] == 250
        except smtplib.SMTPConnectError:
            return False  # the server has not processed the closes yet

    wait_for(slot_free, what="a free connection slot")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_several_processes_share_the_port(make_gateway, next_hop: NextHop) -> None:
    gw = make_gateway(OUTGUARD_SMTP__PROCESSES="3")
    gw.cli("tenant", "add", "acme")
    gw.cli("domain", "add", "acme", "acme.example", "--verified")
    gw.cli("connector", "add", "acme", "office", "--ip", "127.0.0.1")
    gw.start()
    for i in range(12):
        with gw.smtp() as s:
            s.ehlo("client")
            s.mail("alice@acme.example")
            s.rcpt(f"r{i}@example.org")
            assert s.data(BODY)[0] == 250
    assert len(next_hop.wait(12)) == 12
    spools = sorted(p.name for p in (gw.workdir / "data" / "spool").iterdir())
    assert spools == ["0", "1", "2"]  # one spool per process
    assert gw.stop() == 0
    assert gw.log.read_text().count("stopped (process") == 3
