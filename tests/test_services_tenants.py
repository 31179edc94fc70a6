"""Tenants, domains (DNS verification on a real loopback DNS server), connectors, mailboxes, keys."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from outguard.errors import Conflict, Forbidden, InvalidValue, LookupFailed, NotFound, Unauthorized
from outguard.model import Mailbox
from outguard.services import Actor, Services
from tests.support.dnsserver import LoopbackDNS


def test_tenant_lifecycle(svc: Services) -> None:
    t = svc.tenants.add("Acme", trial=True, subscription_expires="2027-01-31")
    assert t["name"] == "acme" and t["licensed"] is False and t["status"] == "active" and t["block"] is None
    assert t["subscription_expires"] == "2027-01-31"
    t = svc.tenants.set("acme", licensed=True, tabl_mode="per-recipient")
    assert t["licensed"] is True and t["tabl_mode"] == "per-recipient"
    with pytest.raises(Conflict, match="already exists"):
        svc.tenants.add("acme")
    with pytest.raises(InvalidValue, match="tenant name"):
        svc.tenants.add("bad name!")
    with pytest.raises(InvalidValue, match="allow/block list mode"):
        svc.tenants.set("acme", tabl_mode="sometimes")
    with pytest.raises(InvalidValue, match="subscription expiry"):
        svc.tenants.set("acme", subscription_expires="31/01/2027")


def test_block_and_unblock_need_reasons_kept_in_audit(svc: Services) -> None:
    svc.tenants.add("acme")
    with pytest.raises(InvalidValue, match="needs a written reason"):
        svc.tenants.block("acme", reason=" ")
    t = svc.tenants.block("acme", reason="compromised on-prem relay sending spam")
    assert t["status"] == "blocked" and t["block"]["code"] == "5.7.705"
    assert t["block"]["reason"] == "compromised on-prem relay sending spam" and t["block"]["since"]
    with pytest.raises(Conflict, match="already blocked"):
        svc.tenants.block("acme", reason="again and again and again")
    with pytest.raises(InvalidValue, match="needs a written reason"):
        svc.tenants.unblock("acme", reason="ok")
    assert svc.tenants.show("acme")["status"] == "blocked"
    t = svc.tenants.unblock("acme", reason="relay closed, passwords reset, MFA on")
    assert t["status"] == "active" and t["block"] is None
    [unblock, block] = svc.audit.list(tenant="acme", action="tenant.")[:2]
    assert (
        unblock["action"] == "tenant.unblock" and unblock["reason"] == "relay closed, passwords reset, MFA on"
    )
    assert unblock["before"]["status"] == "blocked" and unblock["after"]["status"] == "active"
    assert block["action"] == "tenant.block" and block["actor"].startswith("cli:")


def test_tenant_admin_cannot_unblock_or_license(svc: Services, db, settings) -> None:
    svc.tenants.add("acme")
    svc.tenants.block("acme", reason="spam from a compromised account")
    key = svc.apikeys.create(tenant="acme")["key"]
    tenant_admin = Services(db, settings, svc.apikeys.authenticate(key))
    with pytest.raises(Forbidden):
        tenant_admin.tenants.unblock("acme", reason="we fixed it, honestly we did")
    with pytest.raises(Forbidden):
        tenant_admin.tenants.set("acme", licensed=True)
    assert tenant_admin.tenants.set("acme", tabl_mode="per-recipient")["tabl_mode"] == "per-recipient"


def test_domain_verification_through_real_dns(svc: Services, dns_server: LoopbackDNS) -> None:
    svc.tenants.add("acme")
    d = svc.domains.add("acme", "Acme.Example")
    assert not d["verified"]
    token = d["txt_record"].split("=", 1)[1].rstrip('"')
    assert d["txt_record"] == f'acme.example. IN TXT "outguard-verification={token}"'

    dns_server.add_txt("acme.example", "v=spf1 -all")
    with pytest.raises(NotFound, match='publish TXT "outguard-verification='):
        svc.domains.verify("acme", "acme.example")
    dns_server.add_txt("acme.example", "outguard-verification=", token)  # split strings join (RFC 7208)
    v = svc.domains.verify("acme", "acme.example")
    assert v["verified"] and v["verified_by"] == "dns"
    assert ("acme.example", "TXT") in dns_server.queries
    assert svc.audit.list(tenant="acme", action="domain.verify")[0]["target"] == "acme.example"


def test_domain_verification_failures_are_explained(svc: Services, dns_server: LoopbackDNS) -> None:
    svc.tenants.add("acme")
    svc.domains.add("acme", "missing.example")
    with pytest.raises(NotFound, match="does not exist in DNS"):
        svc.domains.verify("acme", "missing.example")
    svc.domains.add("acme", "slow.example")
    dns_server.silent.add("slow.example")
    with pytest.raises(LookupFailed, match="timed out"):
        svc.domains.verify("acme", "slow.example")
    with pytest.raises(NotFound, match="not an accepted domain"):
        svc.domains.verify("acme", "other.example")


def test_attested_domain_and_global_uniqueness(svc: Services) -> None:
    svc.tenants.add("acme")
    svc.tenants.add("globex")
    d = svc.domains.add("acme", "acme.example", verified=True)
    assert d["verified"] and d["verified_by"].startswith("attested by cli:")
    assert svc.audit.list(tenant="acme")[0]["action"] == "domain.attest"
    with pytest.raises(Conflict, match="already an accepted domain"):
        svc.domains.add("globex", "ACME.example")


def test_ip_connectors_may_not_overlap_across_tenants(svc: Services) -> None:
    for t in ("acme", "globex"):
        svc.tenants.add(t)
    c = svc.connectors.add("acme", "onprem", ips=["192.0.2.0/24", "198.51.100.7"])
    assert c["ips"] == ["192.0.2.0/24", "198.51.100.7/32"] and c["kind"] == "ip"
    with pytest.raises(Conflict, match="overlaps 192.0.2.0/24 of connector 'onprem'"):
        svc.connectors.add("globex", "relay", ips=["192.0.2.128/25"])
    with pytest.raises(Conflict, match="overlaps"):
        svc.connectors.add("globex", "relay", ips=["198.51.100.0/24"])
    svc.connectors.add("globex", "relay", ips=["203.0.113.0/24"])
    assert [c["name"] for c in svc.connectors.list("globex")] == ["relay"]


@pytest.mark.parametrize(
    ("ips", "message"),
    [
        (["10.0.0.1/24"], "host bits set; did you mean 10.0.0.0/24"),
        (["10.0.0.0/8"], "wider than /16"),
        (["2001:db8::/32"], "IPv6 is not supported"),
        (["10.0.0.0/33"], "invalid prefix length"),
        (["300.1.1.1"], "not an IPv4 address"),
        (["10.1.0.0/24", "10.1.0.0/25"], "overlaps 10.1.0.0/24 in the same command"),
    ],
)
def test_bad_connector_ranges(svc: Services, ips: list[str], message: str) -> None:
    svc.tenants.add("acme")
    with pytest.raises(InvalidValue, match=message):
        svc.connectors.add("acme", "c1", ips=ips)
    assert svc.connectors.list("acme") == []


def test_certificate_connector_domain_rules(svc: Services) -> None:
    svc.tenants.add("acme")
    svc.domains.add("acme", "acme.example", verified=True)
    svc.domains.add("acme", "pending.example")
    assert (
        svc.connectors.add("acme", "c1", cert_domain="mail.acme.example")["cert_domain"]
        == "mail.acme.example"
    )
    assert svc.connectors.add("acme", "c2", cert_domain="acme.example")["kind"] == "certificate"
    with pytest.raises(InvalidValue, match="or directly under one"):
        svc.connectors.add("acme", "c3", cert_domain="a.b.acme.example")  # two levels below
    with pytest.raises(InvalidValue, match="or directly under one"):
        svc.connectors.add("acme", "c3", cert_domain="mail.other.example")
    with pytest.raises(InvalidValue, match="not verified yet"):
        svc.connectors.add("acme", "c3", cert_domain="mx.pending.example")
    with pytest.raises(Conflict, match="already used"):
        svc.connectors.add("acme", "c4", cert_domain="MAIL.acme.example")
    with pytest.raises(InvalidValue, match="either --ip"):
        svc.connectors.add("acme", "c5", ips=["192.0.2.1"], cert_domain="acme.example")
    with pytest.raises(Conflict, match="already has a connector named 'c1'"):
        svc.connectors.add("acme", "c1", ips=["192.0.2.1"])
    svc.connectors.remove("acme", "c1")
    with pytest.raises(NotFound):
        svc.connectors.remove("acme", "c1")


def test_mailboxes_hash_passwords_with_argon2(svc: Services, db) -> None:
    svc.tenants.add("acme")
    svc.domains.add("acme", "acme.example", verified=True)
    m = svc.mailboxes.add("acme", "Alice@Acme.example", "correct horse battery")
    assert m["address"] == "alice@acme.example"
    with db.session() as s:
        stored = s.scalar(select(Mailbox.password_hash))
    assert stored.startswith("$argon2") and "correct horse" not in stored
    assert PasswordHasher().verify(stored, "correct horse battery")
    with pytest.raises(InvalidValue, match="not an accepted domain"):
        svc.mailboxes.add("acme", "bob@elsewhere.example", "correct horse battery")
    with pytest.raises(InvalidValue, match="at least 10 characters"):
        svc.mailboxes.add("acme", "bob@acme.example", "short")
    with pytest.raises(Conflict, match="already exists"):
        svc.mailboxes.add("acme", "alice@acme.example", "correct horse battery")
    with pytest.raises(Conflict, match="still has mailboxes"):
        svc.domains.remove("acme", "acme.example")


def test_api_keys_are_shown_once_and_stored_hashed(svc: Services, db) -> None:
    svc.tenants.add("acme")
    op = svc.apikeys.create(operator=True)
    assert op["key"].startswith("og_") and len(op["key"]) > 40
    assert all("key" not in k for k in svc.apikeys.list())
    actor = svc.apikeys.authenticate(op["key"])
    assert actor.is_operator and actor.tenant_id is None
    tk = svc.apikeys.create(tenant="acme")
    assert svc.apikeys.authenticate(tk["key"]).role == "tenant"
    with db.session() as s:
        from outguard.model import ApiKey

        hashes = list(s.scalars(select(ApiKey.key_hash)))
    assert op["key"] not in hashes and tk["key"] not in hashes
    svc.apikeys.revoke(tk["prefix"])
    with pytest.raises(Unauthorized):
        svc.apikeys.authenticate(tk["key"])
    with pytest.raises(Unauthorized):
        svc.apikeys.authenticate("og_guessed")


def test_reputation_and_ip_exceptions_are_operator_only(svc: Services, db, settings) -> None:
    svc.tenants.add("acme", trial=True)
    r = svc.reputation.add("203.0.113.0/24", reason="snowshoe spam source")
    assert r["cidr"] == "203.0.113.0/24"
    with pytest.raises(Conflict):
        svc.reputation.add("203.0.113.0/24", reason="snowshoe spam source")
    e = svc.ip_exceptions.add(
        "acme", "203.0.113.5", reason="trial customer's office IP", expires="2099-01-01"
    )
    assert e["cidr"] == "203.0.113.5/32" and e["granted_by"].startswith("cli:")
    tenant_admin = Services(db, settings, Actor("tenant", "apikey:test", svc.tenants.show("acme") and 1))
    with pytest.raises(Forbidden):
        tenant_admin.ip_exceptions.add("acme", "198.51.100.1", reason="please let us send")
    with pytest.raises(Forbidden):
        tenant_admin.reputation.list()
    assert [x["cidr"] for x in tenant_admin.ip_exceptions.list("acme")] == ["203.0.113.5/32"]
