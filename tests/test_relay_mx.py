"""Delivery by MX (no smart host): RFC 5321 §5.1 routing against a real DNS server on loopback.

Every MX host name resolves to 127.0.0.1 and the gateway connects to the test next hop's port
(`[delivery] mx_port`); a dead MX resolves to 127.0.0.3, where nothing listens. The sender's
domain acme.example has an MX too, so NDRs reach alice through the same next hop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.bounce import dsn_fields, parse, sisimai
from tests.support.dnsserver import LoopbackDNS
from tests.support.mail import Gateway, NextHop

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

BODY = b"From: alice@acme.example\r\nSubject: Routed by MX\r\n\r\nHello.\r\n"


@pytest.fixture
def mx_gateway(acme_gateway: Gateway, next_hop: NextHop, dns_server: LoopbackDNS) -> Gateway:
    gw = acme_gateway
    del gw.env["OUTGUARD_SMARTHOST"]
    gw.env["OUTGUARD_DELIVERY__MX_PORT"] = str(next_hop.port)
    dns_server.add_mx("acme.example", "mx.acme.example")  # where NDRs to alice go
    dns_server.add_a("mx.acme.example", "127.0.0.1")
    return gw


def _remote_mtas(gw: Gateway, queue_id: str) -> dict[str, str | None]:
    rows = gw.wait_trace(lambda r: r and all(x["status"] != "Pending" for x in r), "--message-id", queue_id)
    assert rows
    return {r["recipient"]: r["remote_mta"] for r in gw.detail(queue_id)["recipients"]}


@SQLITE_ONLY
def test_mail_goes_to_the_recipient_domains_mx(
    mx_gateway: Gateway, next_hop: NextHop, dns_server: LoopbackDNS
) -> None:
    dns_server.add_mx("example.org", "mx1.example.org")
    dns_server.add_a("mx1.example.org", "127.0.0.1")
    gw = mx_gateway.start()
    queue_id = gw.send("alice@acme.example", ["bob@example.org"], BODY)
    [msg] = next_hop.wait(1)
    assert msg.recipients == ["bob@example.org"] and msg.data.endswith(BODY)
    assert ("example.org", "MX") in dns_server.queries and ("mx1.example.org", "A") in dns_server.queries
    assert _remote_mtas(gw, queue_id) == {"bob@example.org": "mx1.example.org"}


@SQLITE_ONLY
def test_recipients_of_two_domains_get_one_transaction_each(
    mx_gateway: Gateway, next_hop: NextHop, dns_server: LoopbackDNS
) -> None:
    for domain in ("example.org", "example.net"):
        dns_server.add_mx(domain, f"mx.{domain}")
        dns_server.add_a(f"mx.{domain}", "127.0.0.1")
    gw = mx_gateway.start()
    gw.send("alice@acme.example", ["bob@example.org", "carol@example.net", "dave@example.org"], BODY)
    got = sorted(sorted(m.recipients) for m in next_hop.wait(2))
    assert got == [["bob@example.org", "dave@example.org"], ["carol@example.net"]]


@SQLITE_ONLY
def test_dead_first_mx_falls_back_to_the_next_preference(
    mx_gateway: Gateway, next_hop: NextHop, dns_server: LoopbackDNS
) -> None:
    dns_server.add_mx("example.org", "mx2.example.org", preference=20)
    dns_server.add_mx("example.org", "mx1.example.org", preference=10)
    dns_server.add_a("mx1.example.org", "127.0.0.3")  # nothing listens there: connection refused
    dns_server.add_a("mx2.example.org", "127.0.0.1")
    gw = mx_gateway.start()
    queue_id = gw.send("alice@acme.example", ["bob@example.org"], BODY)
    [msg] = next_hop.wait(1)
    assert msg.recipients == ["bob@example.org"]
    assert _remote_mtas(gw, queue_id) == {"bob@example.org": "mx2.example.org"}
    [recipient] = gw.detail(queue_id)["recipients"]
    assert recipient["attempts"] == 1  # the fallback happened within the first attempt


@SQLITE_ONLY
def test_domain_without_mx_is_delivered_to_its_address_record(
    mx_gateway: Gateway, next_hop: NextHop, dns_server: LoopbackDNS
) -> None:
    dns_server.add_a("implicit.example", "127.0.0.1")  # no MX: the domain is its own MX
    gw = mx_gateway.start()
    queue_id = gw.send("alice@acme.example", ["bob@implicit.example"], BODY)
    [msg] = next_hop.wait(1)
    assert msg.recipients == ["bob@implicit.example"]
    assert _remote_mtas(gw, queue_id) == {"bob@implicit.example": "implicit.example"}


@SQLITE_ONLY
def test_unknown_recipient_domain_bounces_with_5_1_2(
    mx_gateway: Gateway, next_hop: NextHop, tmp_path: Path
) -> None:
    gw = mx_gateway.start()
    queue_id = gw.send("alice@acme.example", ["bob@nowhere.example"], BODY)  # NXDOMAIN
    [ndr] = next_hop.wait_report(1)
    assert ndr.recipients == ["alice@acme.example"]
    _, [rcpt] = dsn_fields(parse(ndr.data))
    assert rcpt["Final-Recipient"] == "rfc822; bob@nowhere.example"
    assert rcpt["Action"] == "failed" and rcpt["Status"] == "5.1.2"
    assert "nowhere.example" in rcpt["Diagnostic-Code"]
    [found] = sisimai(ndr.data, tmp_path)
    assert found["recipient"] == "bob@nowhere.example" and found["reason"] == "hostunknown"
    rows = gw.wait_trace(lambda r: r and r[0]["status"] == "Failed", "--message-id", queue_id)
    assert rows[0]["code"] == "5.1.2"


@SQLITE_ONLY
def test_null_mx_domain_bounces_with_5_1_10(
    mx_gateway: Gateway, next_hop: NextHop, dns_server: LoopbackDNS, tmp_path: Path
) -> None:
    dns_server.add_mx("nullmx.example", ".", preference=0)  # RFC 7505: accepts no mail
    gw = mx_gateway.start()
    queue_id = gw.send("alice@acme.example", ["bob@nullmx.example"], BODY)
    [ndr] = next_hop.wait_report(1)
    _, [rcpt] = dsn_fields(parse(ndr.data))
    assert rcpt["Final-Recipient"] == "rfc822; bob@nullmx.example"
    assert rcpt["Action"] == "failed" and rcpt["Status"] == "5.1.10"
    assert "null MX" in rcpt["Diagnostic-Code"]
    [found] = sisimai(ndr.data, tmp_path)
    assert found["recipient"] == "bob@nullmx.example" and found["reason"] == "notaccept"
    rows = gw.wait_trace(lambda r: r and r[0]["status"] == "Failed", "--message-id", queue_id)
    assert rows[0]["code"] == "5.1.10"
    assert ("nullmx.example", "A") not in dns_server.queries  # a null MX is final: no implicit MX
