"""The policy chain: each rule is pure (context in, decision out), and the chain records hits and misses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import pytest

from outguard import codes
from outguard.abuse import threshold_state
from outguard.policy import Chain, Context, Stage
from outguard.policy.rules import (
    LowReputationTrialRule,
    OutboundSpamRule,
    RestrictedSenderRule,
    SendAsRule,
    SenderLimitRule,
    SubscriptionLapseRule,
    TablMessageRule,
    TablRecipientRule,
    TenantAttributionRule,
    TenantBlockRule,
    UnregisteredDomainRule,
)
from outguard.store.snapshot import IpRange, RangeSet, TenantConfig
from outguard.tabl import parse_value
from outguard.util import ipv4_int

NOW = 1_800_000_000.0


def tenant(**kw: object) -> TenantConfig:
    t = TenantConfig(
        id=1,
        name="acme",
        serial=1,
        licensed=True,
        subscription_expires=None,
        status="active",
        block_code=None,
        block_reason=None,
        tabl_mode="whole-message",
        alert_address=None,
        limits={},
    )
    t.domains = {"acme.example": True, "pending.example": False}
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def ctx(t: TenantConfig | None = None, **kw: object) -> Context:
    base = {
        "now": NOW,
        "today": date(2027, 1, 15),
        "client_ip": "192.0.2.1",
        "tenant": t,
        "via": "ip",
        "sender": "alice@acme.example",
        "settings": {"unregistered_allowance": 100},
    }
    base.update(kw)
    return Context(**base)  # type: ignore[arg-type]


def blocklist(*values: str) -> object:
    from outguard.tabl import TenantBlockList

    b = TenantBlockList()
    for v in values:
        p = parse_value(v)
        b.add(p.value, p.kind, None)
    return b


def test_attribution() -> None:
    assert TenantAttributionRule().check(ctx(None)).code is codes.TENANT_ATTRIBUTION
    assert TenantAttributionRule().check(ctx(tenant())) is None


def test_subscription_lapse_and_block() -> None:
    lapsed = tenant(subscription_expires=date(2027, 1, 14))
    assert SubscriptionLapseRule().check(ctx(lapsed)).code is codes.TENANT_THRESHOLD
    assert SubscriptionLapseRule().check(ctx(tenant(subscription_expires=date(2027, 1, 15)))) is None
    blocked = tenant(status="blocked", block_code="5.7.705", block_reason="spam")
    assert (
        TenantBlockRule().check(ctx(blocked)).reply
        == "550 5.7.705 Access denied, tenant has exceeded threshold"
    )


def test_unregistered_domain_allowance_exemptions() -> None:
    rule = UnregisteredDomainRule()
    assert rule.check(ctx(tenant(), sender="app@other.example", counts={"unregistered": 99})) is None
    d = rule.check(ctx(tenant(), sender="app@other.example", counts={"unregistered": 100}))
    assert d.reply == "550 5.7.750 Client blocked from sending from unregistered domain"
    over = {"unregistered": 10_000}
    assert rule.check(ctx(tenant(), sender="alice@acme.example", counts=over)) is None  # verified domain
    assert (
        rule.check(ctx(tenant(), sender="x@pending.example", counts=over)) is not None
    )  # accepted, unverified
    assert rule.check(ctx(tenant(), sender="", counts=over)) is None  # the null sender is never counted
    cert = ctx(
        tenant(), sender="app@other.example", counts=over, via="certificate", cert_domain="mail.acme.example"
    )
    assert rule.check(cert) is None  # certificate connector on an accepted domain: exempt
    assert ctx(
        tenant(), sender="app@other.example", via="certificate", cert_domain="mail.other.example"
    ).unregistered_sender


def test_send_as() -> None:
    assert (
        SendAsRule()
        .check(ctx(tenant(), via="auth", auth_user="alice@acme.example", sender="ceo@bank.example"))
        .code
        is codes.SENDER_NOT_ALLOWED
    )
    assert SendAsRule().check(ctx(tenant(), via="auth", auth_user="alice@acme.example")) is None
    assert SendAsRule().check(ctx(tenant(), via="ip", sender="ceo@bank.example")) is None


def test_tabl_modes() -> None:
    t = tenant(blocklist=blocklist("bad@x.example", "*.spam.example"))
    c = ctx(t, recipients=["ok@y.example", "a@mx.spam.example", "bad@x.example"])
    d = TablMessageRule().check(c)
    assert d.values == {"recipients": "a@mx.spam.example, bad@x.example"}
    assert d.recipients == ("a@mx.spam.example", "bad@x.example")
    assert TablRecipientRule().check(ctx(t, recipient="bad@x.example")) is None  # whole-message tenant
    t.tabl_mode = "per-recipient"
    assert TablMessageRule().check(c) is None
    assert TablRecipientRule().check(ctx(t, recipient="bad@x.example")).values == {
        "recipients": "bad@x.example"
    }


@dataclass
class Rep:
    listed: bool
    source: str = "local"
    detail: str = "listed"


def test_trial_reputation_rule() -> None:
    rule = LowReputationTrialRule()
    trial = tenant(licensed=False)
    assert rule.check(ctx(trial, facts={"reputation": Rep(True)})).code is codes.IP_NOT_ACCEPTED
    assert rule.check(ctx(trial, facts={"reputation": Rep(False)})) is None
    assert rule.check(ctx(tenant(), facts={"reputation": Rep(True)})) is None  # licensed
    ip = ipv4_int("192.0.2.1")
    trial.ip_exceptions = RangeSet([IpRange(ip, ip, math.inf, "exception")])
    assert rule.check(ctx(trial, facts={"reputation": Rep(True)})) is None
    trial.ip_exceptions = RangeSet([IpRange(ip, ip, NOW - 1, "expired")])
    assert rule.check(ctx(trial, facts={"reputation": Rep(True)})) is not None


def test_restricted_sender_and_limits() -> None:
    t = tenant(restricted={"bob@acme.example": NOW + 60})
    assert RestrictedSenderRule().check(ctx(t, sender="bob@acme.example")).code is codes.RESTRICTED_SENDER
    assert RestrictedSenderRule().check(ctx(t, sender="bob@acme.example", now=NOW + 61)) is None
    settings = {
        "external_per_hour": 5,
        "internal_per_hour": 5,
        "per_day": 8,
        "restricted_action": "block-until-released",
    }
    c = ctx(
        tenant(),
        sender="carol@acme.example",
        recipients=["a@x.example", "b@acme.example"],
        settings=settings,
        counts={"external_per_hour": 4, "internal_per_hour": 0, "per_day": 5},
    )
    assert SenderLimitRule().check(c) is None  # 4+1 external, 5+2 per day: at, not over
    c.counts["per_day"] = 7
    d = SenderLimitRule().check(c)
    assert d.code is codes.RESTRICTED_SENDER and d.recipients == ("per_day", "8") and d.enforce
    c.settings = {**settings, "restricted_action": "alert-only"}
    assert SenderLimitRule().check(c).enforce is False
    c.tenant = tenant(released_today=frozenset({"carol@acme.example"}))
    assert SenderLimitRule().check(c) is None  # released today: not restricted again


def test_outbound_spam_rule() -> None:
    @dataclass
    class V:
        spam: bool
        score: float = 9.0
        tests: tuple[str, ...] = ("GTUBE",)

    assert OutboundSpamRule().check(
        ctx(tenant(), facts={"verdict": V(True)}, settings={"spam_action": "reject"})
    )
    assert (
        OutboundSpamRule().check(
            ctx(tenant(), facts={"verdict": V(True)}, settings={"spam_action": "high-risk"})
        )
        is None
    )
    assert (
        OutboundSpamRule().check(
            ctx(tenant(), facts={"verdict": V(False)}, settings={"spam_action": "reject"})
        )
        is None
    )


def test_chain_records_hits_and_misses_and_honours_modes() -> None:
    t = tenant(blocklist=blocklist("bad@x.example"))
    c = ctx(t, sender="app@other.example", counts={"unregistered": 500}, recipients=["bad@x.example"])
    enforced = Chain().run(Stage.MAIL, c)
    assert enforced.decision.rule == "unregistered-domain"
    assert enforced.misses == [
        "attribution",
        "subscription",
        "tenant-block",
        "trial-ip-reputation",
        "restricted-sender",
        "send-as",
    ]
    observed = Chain(modes={"unregistered-domain": "observe"}).run(Stage.MAIL, c)
    assert observed.decision is None and observed.hits[0]["mode"] == "observe"
    assert (
        Chain(modes={"attribution": "observe"}).run(Stage.MAIL, ctx(None)).decision is not None
    )  # never observed
    assert Chain().run(Stage.DATA, c).decision.rule == "tabl-message"
    with pytest.raises(ValueError, match="unknown rules: nope"):
        Chain(modes={"nope": "observe"})


@pytest.mark.parametrize(
    ("messages", "spam", "state"),
    [
        (100, 39, "ok"),  # under 80 % of the 50-message minimum
        (100, 40, "warning"),  # 80 % of the minimum, share 40 % >= 80 % of 30 %
        (100, 50, "tripped"),
        (1000, 60, "ok"),  # enough spam, but only 6 % of the mail
        (200, 50, "warning"),  # minimum reached, share 25 %: between 24 % and 30 %
        (10, 10, "ok"),  # 100 % spam, but too few messages to judge
        (0, 0, "ok"),
    ],
)
def test_threshold_state(messages: int, spam: int, state: str) -> None:
    assert threshold_state(messages, spam, min_messages=50, ratio=0.3, warn_at=0.8) == state
