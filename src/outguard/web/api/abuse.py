"""The way back from the abuse protections: restricted senders (5.1.8), delisting requests
(5.7.705 and other blocks), and alerts."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter

from outguard.web.api.schemas import Decision, DelistingCreate, Reason
from outguard.web.deps import ServicesDep
from outguard.web.paging import PagingDep, open_page, page

router = APIRouter(tags=["restricted senders, delisting, alerts"])


@router.get("/tenants/{name}/restricted")
def list_restricted(
    svc: ServicesDep, name: str, paging: PagingDep, include_released: bool = False
) -> dict[str, Any]:
    """Senders restricted for exceeding their outbound limits (5.1.8)."""
    return page(svc.restricted.list(name, include_released=include_released), paging)


@router.post("/tenants/{name}/restricted/{address}/release")
def release_restricted(svc: ServicesDep, name: str, address: str, body: Reason) -> dict[str, Any]:
    """Let a restricted sender send again (tenant admin or operator), after securing the account."""
    return {"items": svc.restricted.release(name, address, reason=body.reason)}


@router.get("/delisting-requests")
def list_delisting(
    svc: ServicesDep,
    paging: PagingDep,
    tenant: str | None = None,
    status: Literal["open", "accepted", "rejected"] | None = None,
) -> dict[str, Any]:
    return page(svc.delisting.list(tenant=tenant, status=status), paging)


@router.post("/tenants/{name}/delisting-requests", status_code=201)
def file_delisting(svc: ServicesDep, name: str, body: DelistingCreate) -> dict[str, Any]:
    """A blocked tenant asks to be let out, explaining cause and fix."""
    return svc.delisting.file(name, explanation=body.explanation)


@router.post("/delisting-requests/{request_id}/accept")
def accept_delisting(svc: ServicesDep, request_id: int, body: Decision) -> dict[str, Any]:
    """Accept (and so unblock the tenant, with the response as the audited reason); operator only."""
    return svc.delisting.decide(request_id, accept=True, response=body.response)


@router.post("/delisting-requests/{request_id}/reject")
def reject_delisting(svc: ServicesDep, request_id: int, body: Decision) -> dict[str, Any]:
    return svc.delisting.decide(request_id, accept=False, response=body.response)


@router.get("/alerts")
def list_alerts(svc: ServicesDep, paging: PagingDep, tenant: str | None = None) -> dict[str, Any]:
    rows = svc.alerts.list(tenant=tenant, limit=paging.offset + paging.limit + 1)
    return open_page(rows[paging.offset :], paging)
