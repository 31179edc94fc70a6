"""The Tenant Allow/Block List: list, bulk add (up to 20 values), change, remove, CSV export/import."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request, Response

from outguard.web.api.schemas import TablAdd, TablChange, TablRemove
from outguard.web.csvio import csv_response, read_tabl_csv, to_csv
from outguard.web.deps import ServicesDep
from outguard.web.paging import PagingDep, page

router = APIRouter(tags=["allow/block list"])

EXPORT_COLUMNS = ("value", "notes", "expires", "action", "kind", "created_at", "created_by", "last_used_at")


def export_rows(rows: list[dict[str, Any]]) -> str:
    return to_csv(({**r, "expires": r["expires_at"] or "never"} for r in rows), EXPORT_COLUMNS)


@router.get("/tenants/{name}/tabl")
def list_tabl(
    svc: ServicesDep,
    name: str,
    paging: PagingDep,
    action: Literal["block", "allow"] | None = None,
    include_expired: bool = False,
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Entries of the list; `format=csv` exports them all (value,notes,expires,…) for re-import."""
    rows = svc.tabl.list(name, action=action, include_expired=include_expired)
    if format == "csv":
        return csv_response(export_rows(rows), f"tabl-{name}.csv")
    return page(rows, paging)


@router.post("/tenants/{name}/tabl", status_code=201)
def add_tabl(svc: ServicesDep, name: str, body: TablAdd) -> dict[str, Any]:
    """Add up to 20 entries at once; all are checked before any is written."""
    items = svc.tabl.add(
        name,
        body.values,
        action=body.action,
        days=body.days,
        expires=body.expires,
        no_expiration=body.no_expiration,
        notes=body.notes,
    )
    return {"items": items}


@router.patch("/tenants/{name}/tabl")
def change_tabl(svc: ServicesDep, name: str, body: TablChange) -> dict[str, Any]:
    """Change the expiry and/or notes of entries (values never change)."""
    items = svc.tabl.update(
        name,
        body.values,
        action=body.action,
        days=body.days,
        expires=body.expires,
        no_expiration=body.no_expiration,
        notes=body.notes,
    )
    return {"items": items}


@router.post("/tenants/{name}/tabl/remove", status_code=204)
def remove_tabl_values(svc: ServicesDep, name: str, body: TablRemove) -> Response:
    """Remove up to 20 entries (all or nothing)."""
    svc.tabl.remove(name, body.values, action=body.action)
    return Response(status_code=204)


@router.delete("/tenants/{name}/tabl/{value}", status_code=204)
def remove_tabl_value(
    svc: ServicesDep, name: str, value: str, action: Literal["block", "allow"] = "block"
) -> Response:
    svc.tabl.remove(name, [value], action=action)
    return Response(status_code=204)


@router.post(
    "/tenants/{name}/tabl/import",
    status_code=201,
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_tabl(
    svc: ServicesDep, name: str, request: Request, action: Literal["block", "allow"] = "block"
) -> dict[str, Any]:
    """Import a CSV with columns `value,notes,expires` (expires: YYYY-MM-DD, ISO time, `never`, or
    empty for the default). All rows or none."""
    rows = read_tabl_csv(await request.body())
    from starlette.concurrency import run_in_threadpool

    items = await run_in_threadpool(svc.tabl.import_rows, name, rows, action=action)
    return {"items": items}
