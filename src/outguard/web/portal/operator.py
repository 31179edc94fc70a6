"""Operator pages: tenants (and one tenant's overview), blocked tenants with their evidence and the
unblock form, IP exceptions, delisting requests, the audit log. The services refuse tenant admins
what only operators may do; the pages only hide the forms."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import Response

from outguard import codes
from outguard.ndr.explain import describe
from outguard.web.portal.auth import FormDep, UserDep, attempt
from outguard.web.portal.render import page

router = APIRouter()
BLOCK_CODES = [c for c in codes.OUTGUARD_CODES if c.enhanced in ("5.7.705", "5.7.750", "5.7.708")]


def _evidence(tenant: dict) -> str:
    block = tenant.get("block") or {}
    return json.dumps(block.get("evidence"), indent=2, ensure_ascii=False) if block.get("evidence") else ""


@router.get("/tenants", include_in_schema=False)
def tenants_page(request: Request, user: UserDep) -> Response:
    request.state.nav = "tenants"
    return page(request, "tenants.html", {"rows": user.svc.tenants.list()})


@router.post("/tenants/add", include_in_schema=False)
def tenants_add(request: Request, user: UserDep, form: FormDep) -> Response:
    name = str(form.get("name", ""))
    expires = str(form.get("subscription_expires", "")).strip() or None
    return attempt(
        request,
        "/tenants",
        f"created tenant {name}",
        lambda: user.svc.tenants.add(name, trial=form.get("trial") == "on", subscription_expires=expires),
    )


@router.get("/tenants/{name}", include_in_schema=False)
def tenant_page(request: Request, user: UserDep, name: str) -> Response:
    request.state.nav = "tenants" if user.is_operator else "dashboard"
    tenant = user.svc.tenants.show(name)
    block = tenant["block"]
    return page(
        request,
        "tenant.html",
        {
            "tenant": tenant,
            "evidence": _evidence(tenant),
            "block_code": describe(block["code"]) if block else None,
            "block_codes": BLOCK_CODES,
            "delisting": user.svc.delisting.list(tenant=name),
            "ip_exceptions": user.svc.ip_exceptions.list(name),
            "headroom": user.svc.reports.headroom(name),
        },
    )


@router.post("/tenants/{name}/block", include_in_schema=False)
def tenant_block(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    code = str(form.get("code") or "5.7.705")
    return attempt(
        request,
        f"/tenants/{name}",
        f"blocked {name} ({code})",
        lambda: user.svc.tenants.block(name, reason=str(form.get("reason", "")), code=code),
    )


@router.post("/tenants/{name}/unblock", include_in_schema=False)
def tenant_unblock(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    back = str(form.get("back") or f"/tenants/{name}")
    return attempt(
        request,
        back,
        f"unblocked {name}",
        lambda: user.svc.tenants.unblock(name, reason=str(form.get("reason", ""))),
    )


@router.post("/tenants/{name}/delisting", include_in_schema=False)
def tenant_delisting(request: Request, user: UserDep, name: str, form: FormDep) -> Response:
    return attempt(
        request,
        "/",
        "delisting request sent: an operator will review it",
        lambda: user.svc.delisting.file(name, explanation=str(form.get("explanation", ""))),
    )


@router.get("/blocked", include_in_schema=False)
def blocked_page(request: Request, user: UserDep) -> Response:
    request.state.nav = "blocked"
    rows = []
    for t in user.svc.tenants.list():
        if t["status"] == "blocked":
            rows.append({"t": t, "code": describe(t["block"]["code"]), "evidence": _evidence(t)})
    return page(request, "blocked.html", {"rows": rows, "delisting": user.svc.delisting.list(status="open")})


@router.get("/ip-exceptions", include_in_schema=False)
def ip_exceptions_page(request: Request, user: UserDep) -> Response:
    request.state.nav = "ip-exceptions"
    return page(
        request,
        "ip_exceptions.html",
        {"rows": user.svc.ip_exceptions.list_all(), "tenants": user.svc.tenants.list()},
    )


@router.post("/ip-exceptions/add", include_in_schema=False)
def ip_exceptions_add(request: Request, user: UserDep, form: FormDep) -> Response:
    tenant, cidr = str(form.get("tenant", "")), str(form.get("cidr", ""))
    return attempt(
        request,
        "/ip-exceptions",
        f"granted {tenant} an exception for {cidr}",
        lambda: user.svc.ip_exceptions.add(
            tenant,
            cidr,
            reason=str(form.get("reason", "")),
            expires=str(form.get("expires", "")).strip() or None,
        ),
    )


@router.post("/ip-exceptions/remove", include_in_schema=False)
def ip_exceptions_remove(request: Request, user: UserDep, form: FormDep) -> Response:
    tenant, cidr = str(form.get("tenant", "")), str(form.get("cidr", ""))
    return attempt(
        request,
        "/ip-exceptions",
        f"revoked {cidr} of {tenant}",
        lambda: user.svc.ip_exceptions.remove(tenant, cidr),
    )


@router.get("/delisting", include_in_schema=False)
def delisting_page(request: Request, user: UserDep) -> Response:
    request.state.nav = "delisting"
    return page(request, "delisting.html", {"rows": user.svc.delisting.list()})


@router.post("/delisting/{request_id}", include_in_schema=False)
def delisting_decide(request: Request, user: UserDep, request_id: int, form: FormDep) -> Response:
    accept = form.get("decision") == "accept"
    return attempt(
        request,
        "/delisting",
        f"request {request_id} {'accepted: the tenant is unblocked' if accept else 'rejected'}",
        lambda: user.svc.delisting.decide(request_id, accept=accept, response=str(form.get("response", ""))),
    )


@router.get("/audit", include_in_schema=False)
def audit_page(
    request: Request, user: UserDep, tenant: str | None = None, action: str | None = None
) -> Response:
    request.state.nav = "audit"
    rows = user.svc.audit.list(tenant=tenant or None, action=action or None, limit=200)
    return page(request, "audit.html", {"rows": rows, "tenant": tenant or "", "action": action or ""})
