"""Message trace pages: search form and results, CSV export, one message's detail."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from outguard.errors import OutguardError
from outguard.web.api.trace import STATUS_CHOICES, TraceFilter, export, search
from outguard.web.csvio import csv_response
from outguard.web.portal.auth import UserDep
from outguard.web.portal.render import page

router = APIRouter()
PAGE = 50
FIELDS = tuple(TraceFilter.model_fields)


def _filter(request: Request) -> TraceFilter:
    q = request.query_params
    values: dict[str, Any] = {k: (q.get(k) or "").strip() or None for k in FIELDS}
    if values["status"] not in STATUS_CHOICES:
        values["status"] = None
    return TraceFilter(**values)


@router.get("/trace", include_in_schema=False)
def trace_page(request: Request, user: UserDep, offset: int = 0) -> Response:
    request.state.nav = "trace"
    f = _filter(request)
    offset = max(offset, 0)
    error, rows = None, []
    try:
        rows = search(user.svc, f, limit=PAGE + 1, offset=offset)
    except OutguardError as e:
        error = str(e)
    query = {k: v for k, v in f.model_dump().items() if v}
    return page(
        request,
        "trace.html",
        {
            "f": f,
            "rows": rows[:PAGE],
            "error": error,
            "statuses": STATUS_CHOICES,
            "tenants": user.svc.tenants.list() if user.is_operator else [],
            "offset": offset,
            "prev": urlencode({**query, "offset": max(offset - PAGE, 0)}) if offset else None,
            "next": urlencode({**query, "offset": offset + PAGE}) if len(rows) > PAGE else None,
            "export": urlencode(query),
        },
        status=422 if error else 200,
    )


@router.get("/trace/export.csv", include_in_schema=False)
def trace_export(request: Request, user: UserDep) -> Response:
    return csv_response(export(user.svc, _filter(request)), "trace.csv")


@router.get("/trace/{queue_id}", include_in_schema=False)
def trace_detail(request: Request, user: UserDep, queue_id: str) -> Response:
    request.state.nav = "trace"
    return page(request, "trace_detail.html", {"msg": user.svc.trace.detail(queue_id)})
