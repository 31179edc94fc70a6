"""Tenant isolation lives in the store: a tenant-scoped session cannot read or write other tenants."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from outguard.errors import NotFound
from outguard.model import AuditEntry, TablEntry, Tenant
from outguard.services import Services


@pytest.fixture
def two_tenants(svc: Services, db, settings) -> tuple[Services, Services]:
    for name in ("acme", "globex"):
        svc.tenants.add(name)
        svc.domains.add(name, f"{name}.example", verified=True)
        svc.tabl.add(name, [f"bad@{name}-target.example"])
        svc.connectors.add(name, "onprem", ips=[f"192.0.2.{1 if name == 'acme' else 2}"])
    acme = Services(db, settings, svc.apikeys.authenticate(svc.apikeys.create(tenant="acme")["key"]))
    globex = Services(db, settings, svc.apikeys.authenticate(svc.apikeys.create(tenant="globex")["key"]))
    return acme, globex


def test_tenant_sees_only_itself(two_tenants: tuple[Services, Services]) -> None:
    acme, _ = two_tenants
    assert [t["name"] for t in acme.tenants.list()] == ["acme"]
    for call in (
        lambda: acme.tenants.show("globex"),
        lambda: acme.tabl.list("globex"),
        lambda: acme.tabl.add("globex", ["x@example.com"]),
        lambda: acme.tabl.remove("globex", ["bad@globex-target.example"]),
        lambda: acme.domains.list("globex"),
        lambda: acme.connectors.list("globex"),
        lambda: acme.connectors.remove("globex", "onprem"),
        lambda: acme.mailboxes.list("globex"),
        lambda: acme.ip_exceptions.list("globex"),
        lambda: acme.audit.list(tenant="globex"),
    ):
        with pytest.raises(NotFound, match="unknown tenant 'globex'"):
            call()
    assert {a["tenant"] for a in acme.audit.list()} == {"acme"}
    assert {k["tenant"] for k in acme.apikeys.list()} == {"acme"}


def test_scoped_session_filters_every_query(two_tenants: tuple[Services, Services], db) -> None:
    acme, _ = two_tenants
    with db.session(acme.actor.tenant_id) as s:
        # Even a query that forgets the tenant filter only returns the tenant's rows.
        assert s.scalar(select(func.count()).select_from(TablEntry)) == 1
        assert [t.name for t in s.scalars(select(Tenant))] == ["acme"]
        assert {a.tenant_name for a in s.scalars(select(AuditEntry))} == {"acme"}
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(TablEntry)) == 2


def test_scoped_session_refuses_to_write_another_tenants_row(
    two_tenants: tuple[Services, Services], db
) -> None:
    acme, globex = two_tenants
    with pytest.raises(PermissionError, match="another tenant"), db.session(acme.actor.tenant_id) as s:
        s.add(
            TablEntry(tenant_id=globex.actor.tenant_id, value="x@example.com", kind="address", action="block")
        )
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(TablEntry)) == 2


def test_conflict_messages_do_not_leak_other_tenants(two_tenants: tuple[Services, Services]) -> None:
    acme, _ = two_tenants
    from outguard.errors import Conflict

    with pytest.raises(Conflict) as err:
        acme.connectors.add("acme", "second", ips=["192.0.2.2"])
    assert "globex" not in str(err.value) and "another tenant" in str(err.value)
