"""Tenants: list, create, inspect, change; block and unblock (operators); dashboard headroom."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request

from outguard.web.api.schemas import Block, Reason, TenantChange, TenantCreate
from outguard.web.deps import ServicesDep, live_counts
from outguard.web.paging import PagingDep, page

router = APIRouter(tags=["tenants"])


@router.get("/tenants")
def list_tenants(
    svc: ServicesDep, paging: PagingDep, status: Literal["active", "blocked"] | None = None
) -> dict[str, Any]:
    """Tenants the key may see: every tenant for an operator key, its own for a tenant key."""
    rows = svc.tenants.list()
    if status:
        rows = [t for t in rows if t["status"] == status]
    return page(rows, paging)


@router.post("/tenants", status_code=201)
def create_tenant(svc: ServicesDep, body: TenantCreate) -> dict[str, Any]:
    """Create a tenant (operator)."""
    return svc.tenants.add(body.name, trial=body.trial, subscription_expires=body.subscription_expires)


@router.get("/tenants/{name}")
def show_tenant(svc: ServicesDep, name: str) -> dict[str, Any]:
    """One tenant with its status, block (code, reason, evidence, what to do) and counts."""
    return svc.tenants.show(name)


@router.patch("/tenants/{name}")
def change_tenant(svc: ServicesDep, name: str, body: TenantChange) -> dict[str, Any]:
    """Change settings: tenant admins the list mode and alert address; operators everything."""
    return svc.tenants.set(
        name,
        licensed=body.licensed,
        subscription_expires=body.subscription_expires,
        clear_subscription=body.clear_subscription,
        tabl_mode=body.tabl_mode,
        alert_address=body.alert_address,
        limits=body.limits,
    )


@router.post("/tenants/{name}/block")
def block_tenant(svc: ServicesDep, name: str, body: Block) -> dict[str, Any]:
    """Block all outbound mail of the tenant (operator; a written reason is required)."""
    return svc.tenants.block(name, reason=body.reason, code=body.code)


@router.post("/tenants/{name}/unblock")
def unblock_tenant(svc: ServicesDep, name: str, body: Reason) -> dict[str, Any]:
    """Lift a block (operator only, with a written reason kept in the audit log)."""
    return svc.tenants.unblock(name, reason=body.reason)


@router.get("/tenants/{name}/headroom")
def tenant_headroom(svc: ServicesDep, name: str, request: Request) -> dict[str, Any]:
    """How close the tenant is to its thresholds (spam/bulk share, unregistered-domain allowance):
    the gateway's live counters when this web process runs one, else computed from the trace."""
    svc.tenants.show(name)  # 404 for a tenant the key may not see, before any counter is read
    return svc.reports.headroom(name, live=live_counts(request, name))
