"""The dashboard: a tenant's status and headroom, or an operator's overview of every tenant."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from outguard.ndr.explain import describe
from outguard.web.deps import live_counts
from outguard.web.portal.auth import UserDep
from outguard.web.portal.render import page

router = APIRouter()
OVERVIEW_TENANTS = 50


@router.get("/", include_in_schema=False)
def dashboard(request: Request, user: UserDep) -> Response:
    svc = user.svc
    request.state.nav = "dashboard"
    refusals_day = svc.reports.refusals(hours=24)
    refusals_week = {r["code"]: r["count"] for r in svc.reports.refusals(hours=24 * 7)}
    context = {
        "refusals": refusals_day,
        "refusals_week": refusals_week,
        "alerts": svc.alerts.list(limit=10),
        "delisting": svc.delisting.list(status="open"),
    }
    if user.tenant:
        tenant = svc.tenants.show(user.tenant)
        block = tenant["block"]
        context |= {
            "tenant": tenant,
            "block_code": describe(block["code"]) if block else None,
            "headroom": svc.reports.headroom(user.tenant, live=live_counts(request, user.tenant)),
        }
        return page(request, "dashboard_tenant.html", context)
    tenants = svc.tenants.list()
    context |= {
        "tenants": tenants,
        "blocked": [t for t in tenants if t["status"] == "blocked"],
        "headroom": [
            svc.reports.headroom(t["name"], live=live_counts(request, t["name"]))
            for t in tenants[:OVERVIEW_TENANTS]
        ],
        "more_tenants": max(len(tenants) - OVERVIEW_TENANTS, 0),
    }
    return page(request, "dashboard_operator.html", context)
