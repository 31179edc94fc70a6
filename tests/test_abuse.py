"""Abuse protection through real SMTP: each code appears exactly when it should, and not before.

5.7.705 (tenant threshold, and subscription lapse), 5.1.8 (restricted senders, per limit and per
action), 5.7.708 (trial tenants on low-reputation IPs: local list and DNSBL; not licensed tenants,
not with an exception), and the way back from each.
"""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.dnsserver import LoopbackDNS
from tests.support.mail import Gateway, NextHop, wait_for

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def message(subject: str, body: str = "Hello,\r\n\r\nthe report is attached.\r\n\r\nAlice\r\n") -> bytes:
    return (
        f"From: alice@acme.example\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{abs(hash(subject + body))}@acme.example>\r\n\r\n{body}"
    ).encode()


def send(gw: Gateway, sender: str, recipients: list[str], data: bytes) -> tuple[int, str]:
    """One transaction; the first refusal (or the final reply) as (code, text)."""
    with gw.smtp() as s:
        s.ehlo("client.acme.example")
        code, reply = s.mail(sender)
        if code != 250:
            return code, reply.decode()
        for r in recipients:
            code, reply = s.rcpt(r)
            if code != 250:
                return code, reply.decode()
        try:
            code, reply = s.data(data)
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error.decode()
        return code, reply.decode()


def show(gw: Gateway, tenant: str = "acme") -> dict:
    return json.loads(gw.cli("tenant", "show", tenant, "--json").stdout)


# 5.7.705: the tenant threshold ------------------------------------------------------------------


def test_tenant_threshold_warns_then_blocks_and_only_an_operator_unblocks(
    acme_gateway: Gateway, next_hop: NextHop
) -> None:
    gw = acme_gateway
    gw.cli("tenant", "set", "acme", "--limit", "spam_min_messages=5", "--limit", "spam_ratio=0.5")
    gw.start()
    for i in range(3):  # clean mail first: it counts towards the tenant's volume
        assert send(gw, "alice@acme.example", ["bob@example.org"], message(f"ok {i}"))[0] == 250
    for i in range(4):  # 4 spam of 7: at 80 % of the 5-message minimum, share 57 % >= 80 % of 50 %
        assert send(gw, "mallory@acme.example", ["x@example.org"], message(f"spam {i}", GTUBE))[0] == 250
    alerts = lambda: json.loads(gw.cli("alerts", "--tenant", "acme", "--json").stdout)  # noqa: E731
    wait_for(lambda: any(a["kind"] == "tenant-threshold-warning" for a in alerts()), what="the early warning")
    assert show(gw)["status"] == "active"
    assert send(gw, "alice@acme.example", ["bob@example.org"], message("still ok"))[0] == 250

    assert send(gw, "mallory@acme.example", ["x@example.org"], message("spam 5", GTUBE))[0] == 250  # trips
    wait_for(lambda: show(gw)["status"] == "blocked", what="the tenant block")
    t = show(gw)
    assert t["block"]["code"] == "5.7.705" and "5 of 9 messages" in t["block"]["reason"]
    evidence = t["block"]["evidence"]
    assert evidence["spam_bulk"] == 5 and evidence["messages"] == 9
    assert evidence["top_senders"][0] == {"value": "mallory@acme.example", "count": 5}
    assert (
        evidence["connectors"][0]["value"] == "office" and evidence["client_ips"][0]["value"] == "127.0.0.1"
    )
    assert any(a["kind"] == "tenant-blocked" for a in alerts())

    def refused() -> bool:
        return send(gw, "alice@acme.example", ["bob@example.org"], message("after")) == (
            550,
            "5.7.705 Access denied, tenant has exceeded threshold",
        )

    wait_for(refused, what="5.7.705 at MAIL FROM")
    # Only an operator lifts it, and only with a written reason.
    assert gw.cli("tenant", "unblock", "acme", "--reason", "", check=False).returncode == 1
    gw.cli("tenant", "unblock", "acme", "--reason", "compromised mailbox reset; MFA enforced for all users")
    wait_for(
        lambda: send(gw, "alice@acme.example", ["bob@example.org"], message("back"))[0] == 250,
        what="mail to flow after the unblock",
    )
    audit = json.loads(gw.cli("audit", "--tenant", "acme", "--action", "tenant.", "--json").stdout)
    assert audit[0]["action"] == "tenant.unblock"
    assert audit[0]["reason"] == "compromised mailbox reset; MFA enforced for all users"
    assert audit[1]["action"] == "tenant.block" and audit[1]["actor"] == "system:abuse"


def test_spam_is_traced_as_filtered_and_routed_to_the_high_risk_pool(make_gateway, next_hop: NextHop) -> None:
    high_risk = NextHop().start()
    try:
        gw = make_gateway(OUTGUARD_ABUSE__HIGH_RISK_SMARTHOST=f"127.0.0.1:{high_risk.port}")
        gw.cli("tenant", "add", "acme")
        gw.cli("domain", "add", "acme", "acme.example", "--verified")
        gw.cli("connector", "add", "acme", "office", "--ip", "127.0.0.1")
        gw.start()
        assert send(gw, "alice@acme.example", ["bob@example.org"], message("spam", GTUBE))[0] == 250
        assert send(gw, "alice@acme.example", ["bob@example.org"], message("fine"))[0] == 250
        [spam] = high_risk.wait(1)
        assert GTUBE.encode() in spam.data
        [ham] = next_hop.wait(1)
        assert GTUBE.encode() not in ham.data
        rows = gw.wait_trace(lambda r: len(r) == 2 and r[1]["status"] == "FilteredAsSpam", "--tenant", "acme")
        detail = json.loads(gw.cli("trace", "--detail", rows[1]["queue_id"], "--json").stdout)
        assert detail["recipients"][0]["status"] == "FilteredAsSpam"
    finally:
        high_risk.stop()


def test_spam_action_reject_refuses_with_5_7_1(make_gateway, next_hop: NextHop) -> None:
    gw = make_gateway(OUTGUARD_ABUSE__SPAM_ACTION="reject")
    gw.cli("tenant", "add", "acme")
    gw.cli("domain", "add", "acme", "acme.example", "--verified")
    gw.cli("connector", "add", "acme", "office", "--ip", "127.0.0.1")
    gw.start()
    assert send(gw, "alice@acme.example", ["bob@example.org"], message("spam", GTUBE)) == (
        550,
        "5.7.1 Message refused as outbound spam",
    )
    rows = gw.wait_trace(lambda r: len(r) == 1, "--tenant", "acme")
    assert rows[0]["status"] == "FilteredAsSpam" and rows[0]["code"] == "5.7.1"
    assert next_hop.messages == []


# 5.7.705: subscription lapse --------------------------------------------------------------------


def test_lapsed_subscription_blocks_and_renewal_lifts_at_once(acme_gateway: Gateway) -> None:
    gw = acme_gateway
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    gw.cli("tenant", "set", "acme", "--subscription-expires", yesterday)
    gw.start()
    t = show(gw)
    assert t["status"] == "blocked" and t["block"]["code"] == "5.7.705"
    assert t["block"]["reason"] == f"subscription expired on {yesterday}"
    assert send(gw, "alice@acme.example", ["bob@example.org"], message("x")) == (
        550,
        "5.7.705 Access denied, tenant has exceeded threshold",
    )
    next_year = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
    gw.cli("tenant", "set", "acme", "--subscription-expires", next_year)
    assert show(gw)["status"] == "active"
    wait_for(
        lambda: send(gw, "alice@acme.example", ["bob@example.org"], message("renewed"))[0] == 250,
        timeout=5,
        what="the renewal to lift the block",
    )


# 5.1.8: restricted senders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "recipients"),
    [
        ("per_day", ["a@example.org", "b@acme.example"]),
        ("external_per_hour", ["a@example.org", "b@example.org"]),
        ("internal_per_hour", ["a@acme.example", "b@acme.example"]),
    ],
)
def test_each_limit_restricts_the_sender(
    acme_gateway: Gateway, next_hop: NextHop, limit: str, recipients: list[str]
) -> None:
    gw = acme_gateway
    gw.cli("tenant", "set", "acme", "--limit", f"{limit}=3")
    gw.start()
    assert send(gw, "bob@acme.example", recipients, message("one"))[0] == 250  # 2 of 3
    code, text = send(gw, "bob@acme.example", recipients, message("two"))  # would be 4 of 3
    assert (code, text) == (550, "5.1.8 Access denied, bad outbound sender")
    # Another sender of the same tenant is not affected; the restricted one is refused at MAIL FROM.
    assert send(gw, "carol@acme.example", recipients, message("carol"))[0] == 250
    wait_for(
        lambda: (
            send(gw, "bob@acme.example", ["x@example.org"], message("x"))[:2]
            == (550, "5.1.8 Access denied, bad outbound sender")
        ),
        what="5.1.8 at MAIL FROM",
    )
    [r] = json.loads(gw.cli("restricted", "list", "acme", "--json").stdout)
    assert (
        r["address"] == "bob@acme.example" and r["limit"] == limit and r["action"] == "block-until-tomorrow"
    )
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert r["until"] == f"{tomorrow}T00:00:00Z"


def test_block_until_released_and_release_by_tenant_admin(acme_gateway: Gateway) -> None:
    gw = acme_gateway
    gw.cli(
        "tenant", "set", "acme", "--limit", "per_day=2", "--limit", "restricted_action=block-until-released"
    )
    gw.start()
    assert (
        send(gw, "bob@acme.example", ["a@example.org", "b@example.org", "c@example.org"], message("x"))[0]
        == 550
    )
    wait_for(
        lambda: send(gw, "bob@acme.example", ["a@example.org"], message("y"))[0] == 550, what="restriction"
    )
    [r] = json.loads(gw.cli("restricted", "list", "acme", "--json").stdout)
    assert r["until"] is None and r["active"]
    gw.cli("restricted", "release", "acme", "bob@acme.example", "--reason", "password reset")
    # Released: sends again, and is not restricted again the same day even past the limit.
    wait_for(lambda: send(gw, "bob@acme.example", ["a@example.org"], message("z"))[0] == 250, what="release")
    assert send(gw, "bob@acme.example", ["b@example.org", "c@example.org"], message("w"))[0] == 250
    assert json.loads(gw.cli("restricted", "list", "acme", "--json").stdout) == []


def test_alert_only_never_refuses(acme_gateway: Gateway) -> None:
    gw = acme_gateway
    gw.cli("tenant", "set", "acme", "--limit", "per_day=1", "--limit", "restricted_action=alert-only")
    gw.start()
    for i in range(3):
        assert send(gw, "bob@acme.example", ["a@example.org", "b@example.org"], message(f"m{i}"))[0] == 250
    alerts = lambda: json.loads(gw.cli("alerts", "--tenant", "acme", "--json").stdout)  # noqa: E731
    wait_for(lambda: any(a["kind"] == "sender-limit-exceeded" for a in alerts()), what="the alert")
    assert json.loads(gw.cli("restricted", "list", "acme", "--json").stdout) == []


# 5.7.708: trial tenants on low-reputation IPs ---------------------------------------------------

REFUSED_708 = (550, "5.7.708 Access denied, traffic not accepted from this IP")


def test_trial_tenant_on_locally_listed_ip(acme_gateway: Gateway) -> None:
    gw = acme_gateway
    gw.cli("tenant", "set", "acme", "--trial")
    gw.cli("reputation", "add", "127.0.0.1", "--reason", "test: pretend this IP sends spam")
    gw.start()
    assert send(gw, "alice@acme.example", ["bob@example.org"], message("x")) == REFUSED_708
    rows = gw.wait_trace(lambda r: len(r) == 1, "--tenant", "acme")
    assert rows[0]["code"] == "5.7.708" and rows[0]["status"] == "Failed"
    # An operator's IP exception lets the trial tenant send.
    gw.cli("ip-exception", "add", "acme", "127.0.0.1", "--reason", "trial customer office, verified by phone")
    wait_for(
        lambda: send(gw, "alice@acme.example", ["bob@example.org"], message("y"))[0] == 250,
        timeout=5,
        what="the exception to apply",
    )


def test_licensed_tenant_is_not_refused_for_reputation(acme_gateway: Gateway) -> None:
    gw = acme_gateway
    gw.cli("reputation", "add", "127.0.0.1", "--reason", "test: pretend this IP sends spam")
    gw.start()
    assert send(gw, "alice@acme.example", ["bob@example.org"], message("x"))[0] == 250


def test_trial_tenant_on_dnsbl_listed_ip(acme_gateway: Gateway, dns_server: LoopbackDNS) -> None:
    gw = acme_gateway
    gw.env["OUTGUARD_REPUTATION__DNSBL_ZONES"] = '["bl.test"]'
    dns_server.add_a("1.0.0.127.bl.test", "127.0.0.2")  # RFC 5782: 127.0.0.1 listed
    gw.cli("tenant", "set", "acme", "--trial")
    gw.start()
    assert send(gw, "alice@acme.example", ["bob@example.org"], message("x")) == REFUSED_708
    assert ("1.0.0.127.bl.test", "A") in dns_server.queries
    detail = gw.wait_trace(lambda r: len(r) == 1, "--tenant", "acme")[0]
    hits = json.loads(gw.cli("trace", "--detail", detail["queue_id"], "--json").stdout)["rule_hits"]
    assert hits[0]["rule"] == "trial-ip-reputation" and "bl.test" in hits[0]["detail"]


@pytest.mark.parametrize(("fail", "expected"), [("open", 250), ("closed", 550)])
def test_failed_dnsbl_lookup_fails_open_or_closed_and_is_traced(
    acme_gateway: Gateway, dns_server: LoopbackDNS, fail: str, expected: int
) -> None:
    gw = acme_gateway
    gw.env.update(
        {
            "OUTGUARD_REPUTATION__DNSBL_ZONES": '["slow.test"]',
            "OUTGUARD_REPUTATION__FAIL": fail,
            "OUTGUARD_REPUTATION__DNSBL_TIMEOUT": "0.3s",
        }
    )
    dns_server.silent.add("1.0.0.127.slow.test")
    gw.cli("tenant", "set", "acme", "--trial")
    gw.start()
    assert send(gw, "alice@acme.example", ["bob@example.org"], message("x"))[0] == expected
    row = gw.wait_trace(lambda r: len(r) == 1, "--tenant", "acme")[0]
    hits = json.loads(gw.cli("trace", "--detail", row["queue_id"], "--json").stdout)["rule_hits"]
    assert any(h["rule"] == "reputation-lookup" and "slow.test" in h["detail"] for h in hits)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_gateway_with_rspamd_classifier(make_gateway, next_hop: NextHop, tmp_path) -> None:
    from tests.conftest import service_unavailable
    from tests.support.rspamd import RspamdProcess, RspamdUnavailable

    rspamd = RspamdProcess(tmp_path / "rspamd")
    try:
        rspamd.start()
    except RspamdUnavailable as e:
        service_unavailable("rspamd", e)
    try:
        gw = make_gateway(
            OUTGUARD_SPAM__CLASSIFIER="rspamd",
            OUTGUARD_SPAM__RSPAMD_URL=rspamd.url,
            OUTGUARD_ABUSE__SPAM_ACTION="reject",
        )
        gw.cli("tenant", "add", "acme")
        gw.cli("domain", "add", "acme", "acme.example", "--verified")
        gw.cli("connector", "add", "acme", "office", "--ip", "127.0.0.1")
        gw.start()
        assert send(gw, "alice@acme.example", ["bob@example.org"], message("spam", GTUBE))[0] == 550
        assert send(gw, "alice@acme.example", ["bob@example.org"], message("quarterly numbers"))[0] == 250
        rows = gw.wait_trace(lambda r: len(r) == 2, "--tenant", "acme")
        spam = json.loads(gw.cli("trace", "--detail", rows[1]["queue_id"], "--json").stdout)
        assert rows[1]["status"] == "FilteredAsSpam" and spam["rule_hits"][0]["rule"] == "outbound-spam"
        assert "GTUBE" in spam["rule_hits"][0]["detail"]
        assert spam["classifier"] == "rspamd" and spam["spam"] is True and "GTUBE" in spam["spam_tests"]
    finally:
        rspamd.stop()
