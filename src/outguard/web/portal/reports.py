"""Report pages: a chart (server-drawn SVG), the table, and CSV/JSON export of each report."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from outguard.errors import NotFound
from outguard.services.reports import DEFAULT_DAYS, MAX_DAYS, REPORTS
from outguard.web import charts
from outguard.web.csvio import csv_response, to_csv
from outguard.web.portal.auth import PortalUser, UserDep
from outguard.web.portal.render import page

router = APIRouter()
DAY_CHOICES = (1, 7, 14, 30, 90)


def _report(user: PortalUser, name: str, tenant: str | None, days: int) -> dict:
    if name not in REPORTS:
        raise NotFound(f"no report named {name!r}")
    return user.svc.reports.report(name, tenant=tenant or None, days=days)


def _days(days: int | None) -> int:
    return min(max(days or DEFAULT_DAYS, 1), MAX_DAYS)


@router.get("/reports", include_in_schema=False)
def reports_index(
    request: Request, user: UserDep, tenant: str | None = None, days: int = DEFAULT_DAYS
) -> Response:
    request.state.nav = "reports"
    query = urlencode({k: v for k, v in {"tenant": tenant, "days": _days(days)}.items() if v})
    return page(
        request, "reports.html", {"reports": REPORTS.values(), "query": query, **_choices(user, tenant, days)}
    )


def _choices(user: PortalUser, tenant: str | None, days: int) -> dict:
    return {
        "tenants": user.svc.tenants.list() if user.is_operator else [],
        "tenant": tenant or "",
        "days": _days(days),
        "day_choices": DAY_CHOICES,
    }


@router.get("/reports/{name}", include_in_schema=False)
def report_page(
    request: Request, user: UserDep, name: str, tenant: str | None = None, days: int = DEFAULT_DAYS
) -> Response:
    request.state.nav = "reports"
    data = _report(user, name, tenant, _days(days))
    query = urlencode({k: v for k, v in {"tenant": tenant, "days": _days(days)}.items() if v})
    return page(
        request,
        f"report_{name.replace('-', '_')}.html",
        {"r": data, "query": query, **_choices(user, tenant, days)},
    )


@router.get("/reports/{name}/chart.svg", include_in_schema=False)
def report_chart(user: UserDep, name: str, tenant: str | None = None, days: int = DEFAULT_DAYS) -> Response:
    svg = charts.render(_report(user, name, tenant, _days(days)))
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Content-Security-Policy": charts.SVG_CSP, "Cache-Control": "private, max-age=60"},
    )


@router.get("/reports/{name}/export.csv", include_in_schema=False)
def report_csv(user: UserDep, name: str, tenant: str | None = None, days: int = DEFAULT_DAYS) -> Response:
    data = _report(user, name, tenant, _days(days))
    return csv_response(to_csv(data["rows"], data["columns"]), f"{name}-{data['tenant'] or 'all'}.csv")


@router.get("/reports/{name}/export.json", include_in_schema=False)
def report_json(user: UserDep, name: str, tenant: str | None = None, days: int = DEFAULT_DAYS) -> Response:
    data = _report(user, name, tenant, _days(days))
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}-{data["tenant"] or "all"}.json"'},
    )
