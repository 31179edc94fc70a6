"""The configuration snapshot the mail path reads: attribution indexes, lists, incremental refresh."""

from __future__ import annotations

import time

from outguard.services import Services
from outguard.store.snapshot import IpRange, RangeSet, Snapshot
from outguard.util import ipv4_int


def test_range_set_finds_containing_range() -> None:
    rs = RangeSet(
        [
            IpRange(ipv4_int("10.0.0.0"), ipv4_int("10.0.255.255"), label="wide"),
            IpRange(ipv4_int("10.0.1.7"), ipv4_int("10.0.1.7"), label="host"),
            IpRange(ipv4_int("192.0.2.0"), ipv4_int("192.0.2.255"), expires=100.0, label="expiring"),
        ]
    )
    assert rs.find(ipv4_int("10.0.1.7"), 0).label in ("host", "wide")
    assert rs.find(ipv4_int("10.0.200.1"), 0).label == "wide"
    assert rs.find(ipv4_int("10.1.0.0"), 0) is None
    assert rs.find(ipv4_int("192.0.2.9"), 99).label == "expiring"
    assert rs.find(ipv4_int("192.0.2.9"), 100) is None
    assert RangeSet([]).find(1, 0) is None


def test_snapshot_reflects_configuration(svc: Services, db) -> None:
    svc.tenants.add("acme")
    svc.domains.add("acme", "acme.example", verified=True)
    svc.domains.add("acme", "unverified.example")
    svc.connectors.add("acme", "onprem", ips=["192.0.2.0/24"])
    svc.connectors.add("acme", "certs", cert_domain="mail.acme.example")
    svc.mailboxes.add("acme", "alice@acme.example", "correct horse battery")
    svc.tabl.add("acme", ["*.blocked.example"])
    svc.reputation.add("203.0.113.0/24", reason="known spam source")
    snap = Snapshot(db)
    assert snap.refresh() == ["acme"]
    now = time.time()
    t, connector = snap.tenant_for_ip(ipv4_int("192.0.2.77"), now)
    assert (t.name, connector) == ("acme", "onprem")
    assert snap.tenant_for_ip(ipv4_int("192.0.3.1"), now) is None
    assert snap.tenant_for_certificate(["other.example", "mail.acme.example"])[0].name == "acme"
    assert snap.mailbox("alice@acme.example")[0].name == "acme"
    assert t.domains == {"acme.example": True, "unverified.example": False}
    assert t.blocklist.match("x@a.blocked.example", now) == "*.blocked.example"
    assert snap.low_reputation.find(ipv4_int("203.0.113.9"), now) is not None


def test_refresh_reloads_only_changed_tenants(svc: Services, db) -> None:
    for name in ("acme", "globex"):
        svc.tenants.add(name)
    snap = Snapshot(db)
    assert sorted(snap.refresh()) == ["acme", "globex"]
    assert snap.refresh() == []
    svc.tabl.add("globex", ["bad@example.com"])
    assert snap.refresh() == ["globex"]
    assert snap.by_name["globex"].blocklist.match("bad@example.com", time.time())
    svc.tenants.block("acme", reason="spam from compromised account")
    assert snap.refresh() == ["acme"]
    assert snap.by_name["acme"].blocked
    svc.tabl.remove("globex", ["bad@example.com"])
    snap.refresh()
    assert snap.by_name["globex"].blocklist.match("bad@example.com", time.time()) is None


def test_removed_connector_stops_attributing(svc: Services, db) -> None:
    svc.tenants.add("acme")
    svc.connectors.add("acme", "onprem", ips=["192.0.2.1"])
    snap = Snapshot(db)
    snap.refresh()
    assert snap.tenant_for_ip(ipv4_int("192.0.2.1"), time.time())
    svc.connectors.remove("acme", "onprem")
    snap.refresh()
    assert snap.tenant_for_ip(ipv4_int("192.0.2.1"), time.time()) is None
