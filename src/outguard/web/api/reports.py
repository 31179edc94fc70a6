"""Reports: the same data as `outguard report`, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from outguard.services.reports import DEFAULT_DAYS, MAX_DAYS, REPORTS
from outguard.web.csvio import csv_response, to_csv
from outguard.web.deps import ActorDep, ServicesDep

router = APIRouter(tags=["reports"])

ReportName = Literal["mailflow", "spam", "top-senders", "connectors", "non-accepted-domains"]


@router.get("/reports")
def list_reports(_actor: ActorDep) -> dict[str, Any]:
    """The reports there are."""
    return {
        "items": [{"name": r.name, "title": r.title, "description": r.description} for r in REPORTS.values()]
    }


@router.get("/reports/{report}")
def report(
    svc: ServicesDep,
    report: ReportName,
    tenant: str | None = None,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS)] = DEFAULT_DAYS,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """One report over the last `days` UTC days (default 7, at most 90), for one tenant or — with an
    operator key and no `tenant` — across all tenants."""
    data = svc.reports.report(report, tenant=tenant, days=days)
    if format == "csv":
        return csv_response(to_csv(data["rows"], data["columns"]), f"{report}-{data['tenant'] or 'all'}.csv")
    return data
