"""Who am I, API keys, and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from outguard.web.api.schemas import ApiKeyCreate
from outguard.web.deps import ActorDep, ServicesDep
from outguard.web.paging import PagingDep, open_page, page

router = APIRouter(tags=["access"])


@router.get("/whoami")
def whoami(actor: ActorDep, svc: ServicesDep) -> dict[str, Any]:
    """The key's role and, for a tenant key, its tenant."""
    tenant = svc.tenants.list()[0]["name"] if actor.tenant_id is not None else None
    return {"role": actor.role, "tenant": tenant, "actor": actor.name}


@router.get("/apikeys")
def list_apikeys(svc: ServicesDep, paging: PagingDep) -> dict[str, Any]:
    """Keys the caller may see (a tenant key: its tenant's), never their secrets."""
    return page(svc.apikeys.list(), paging)


@router.post("/apikeys", status_code=201)
def create_apikey(svc: ServicesDep, body: ApiKeyCreate) -> dict[str, Any]:
    """Create a key; `key` in the answer is the only time the secret is shown."""
    return svc.apikeys.create(operator=body.operator, tenant=body.tenant, label=body.label)


@router.delete("/apikeys/{prefix}", status_code=204)
def revoke_apikey(svc: ServicesDep, prefix: str) -> Response:
    svc.apikeys.revoke(prefix)
    return Response(status_code=204)


@router.get("/audit")
def audit_log(
    svc: ServicesDep, paging: PagingDep, tenant: str | None = None, action: str | None = None
) -> dict[str, Any]:
    """Admin changes, newest first: who, what, when, before/after, reason."""
    rows = svc.audit.list(tenant=tenant, action=action, limit=paging.offset + paging.limit + 1)
    return open_page(rows[paging.offset :], paging)
