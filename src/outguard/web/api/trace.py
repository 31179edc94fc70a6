"""Message trace: search (one row per message and recipient), CSV export, and one message's detail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from outguard.services import Services
from outguard.web.csvio import csv_response, to_csv
from outguard.web.deps import ServicesDep
from outguard.web.paging import PagingDep, open_page

router = APIRouter(tags=["trace"])

TRACE_COLUMNS = (
    "received", "queue_id", "message_id", "tenant", "sender", "recipient", "subject", "status", "code",
    "detail", "client_ip", "size",
)  # fmt: skip
MAX_EXPORT = 50_000  # like the reference's enhanced summary report
Status = Literal["Delivered", "Failed", "Pending", "FilteredAsSpam", "Quarantined"]
STATUS_CHOICES = ("Delivered", "Failed", "Pending", "FilteredAsSpam", "Quarantined")


class TraceFilter(BaseModel):
    tenant: str | None = None
    sender: str | None = None
    recipient: str | None = None
    message_id: str | None = None
    status: Status | None = None
    subject: str | None = None
    client_ip: str | None = None
    code: str | None = None
    since: str | None = None
    until: str | None = None


def trace_filter(
    tenant: str | None = None,
    sender: Annotated[str | None, Query(description="Address; one * wildcard (*@example.com).")] = None,
    recipient: Annotated[str | None, Query(description="Address; one * wildcard.")] = None,
    message_id: Annotated[str | None, Query(description="Message-ID header or queue id.")] = None,
    status: Status | None = None,
    subject: Annotated[str | None, Query(description="Subject contains.")] = None,
    client_ip: str | None = None,
    code: Annotated[str | None, Query(description="Enhanced status code, e.g. 5.7.703.")] = None,
    since: Annotated[str | None, Query(description="ISO 8601 time or 2h, 3d; default 48 hours ago.")] = None,
    until: Annotated[str | None, Query(description="ISO 8601 time; default now.")] = None,
) -> TraceFilter:
    return TraceFilter(
        tenant=tenant,
        sender=sender,
        recipient=recipient,
        message_id=message_id,
        status=status,
        subject=subject,
        client_ip=client_ip,
        code=code,
        since=since,
        until=until,
    )


TraceFilterDep = Annotated[TraceFilter, Depends(trace_filter)]


def search(svc: Services, f: TraceFilter, *, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    return svc.trace.search(**f.model_dump(), limit=limit, offset=offset)


def export(svc: Services, f: TraceFilter) -> str:
    rows: list[dict[str, Any]] = []
    # Fix the window first, so pages do not shift while new mail arrives.
    fixed = f.model_copy(update={"until": f.until or datetime.now().astimezone().isoformat()})
    while len(rows) < MAX_EXPORT:
        chunk = search(svc, fixed, limit=5000, offset=len(rows))
        rows += chunk
        if len(chunk) < 5000:
            break
    return to_csv(rows[:MAX_EXPORT], TRACE_COLUMNS)


@router.get("/trace")
def trace_search(
    svc: ServicesDep, f: TraceFilterDep, paging: PagingDep, format: Literal["json", "csv"] = "json"
) -> Any:
    """Search the trace, newest first: the last 48 hours by default, up to 90 days back.
    `format=csv` exports every match (up to 50,000 rows)."""
    if format == "csv":
        return csv_response(export(svc, f), "trace.csv")
    rows = search(svc, f, limit=paging.limit + 1, offset=paging.offset)
    return open_page(rows, paging)


@router.get("/trace/{queue_id}")
def trace_detail(svc: ServicesDep, queue_id: str) -> dict[str, Any]:
    """One message: every recipient, every event and every rule decision."""
    return svc.trace.detail(queue_id)
