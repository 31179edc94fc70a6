"""IP exceptions (per tenant, granted by operators) and the operator's low-reputation list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from outguard.web.api.schemas import IpExceptionCreate, ReputationCreate
from outguard.web.deps import ServicesDep
from outguard.web.paging import PagingDep, page

router = APIRouter(tags=["IP exceptions and reputation"])


@router.get("/ip-exceptions")
def list_all_ip_exceptions(svc: ServicesDep, paging: PagingDep) -> dict[str, Any]:
    """Every IP exception the key may see (an operator's: all tenants), with its tenant."""
    return page(svc.ip_exceptions.list_all(), paging)


@router.get("/tenants/{name}/ip-exceptions")
def list_ip_exceptions(svc: ServicesDep, name: str, paging: PagingDep) -> dict[str, Any]:
    return page(svc.ip_exceptions.list(name), paging)


@router.post("/tenants/{name}/ip-exceptions", status_code=201)
def add_ip_exception(svc: ServicesDep, name: str, body: IpExceptionCreate) -> dict[str, Any]:
    """Let a trial tenant send from a low-reputation range (operator; reason required)."""
    return svc.ip_exceptions.add(name, body.cidr, reason=body.reason, expires=body.expires)


@router.delete("/tenants/{name}/ip-exceptions/{cidr:path}", status_code=204)
def remove_ip_exception(svc: ServicesDep, name: str, cidr: str) -> Response:
    svc.ip_exceptions.remove(name, cidr)
    return Response(status_code=204)


@router.get("/reputation")
def list_low_reputation(svc: ServicesDep, paging: PagingDep) -> dict[str, Any]:
    """The local list of low-reputation client IPs (operator)."""
    return page(svc.reputation.list(), paging)


@router.post("/reputation", status_code=201)
def add_low_reputation(svc: ServicesDep, body: ReputationCreate) -> dict[str, Any]:
    return svc.reputation.add(body.cidr, reason=body.reason, expires=body.expires)


@router.delete("/reputation/{cidr:path}", status_code=204)
def remove_low_reputation(svc: ServicesDep, cidr: str) -> Response:
    svc.reputation.remove(cidr)
    return Response(status_code=204)
