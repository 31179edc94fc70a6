"""Reference data any key may read: the status-code catalogue and the bounce explainer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from outguard import codes
from outguard.errors import InvalidValue, NotFound
from outguard.ndr import explain
from outguard.web.deps import ActorDep

router = APIRouter(tags=["codes and bounces"])
MAX_BOUNCE_BYTES = 10 * 1024 * 1024


def code_view(c: codes.StatusCode) -> dict[str, Any]:
    return {
        "code": c.enhanced,
        "reply": c.reply,
        "text": c.text,
        "name": c.name,
        "cause": c.cause,
        "sender_fix": c.sender_fix,
        "admin_fix": c.admin_fix,
        "lifted_by": c.lifted_by or None,
        "report": c.report,
        "outguard": c.outguard,
        "anchor": c.anchor,
    }


@router.get("/codes")
def list_codes(_actor: ActorDep) -> dict[str, Any]:
    """The status-code catalogue: every code Outguard answers with or explains."""
    return {"items": [code_view(c) for c in codes.ALL_CODES]}


@router.get("/codes/{code}")
def show_code(_actor: ActorDep, code: str) -> dict[str, Any]:
    """One code, by enhanced code (`5.7.703`) or link anchor (`5-7-703`)."""
    entry = codes.by_anchor(code) or codes.lookup(code.replace("-", "."))
    if entry is None:
        raise NotFound(f"no status code {code!r} in the catalogue")
    return code_view(entry)


def explain_bounce(raw: bytes) -> dict[str, Any]:
    """The bounce explainer's answer (the shape of `outguard ndr explain --json`)."""
    return explain(raw).to_dict()


@router.post(
    "/ndr/explain",
    openapi_extra={
        "requestBody": {"content": {"message/rfc822": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def ndr_explain(_actor: ActorDep, request: Request) -> dict[str, Any]:
    """Explain any bounce: the raw message in the body; per recipient what happened and how to fix it."""
    raw = await request.body()
    if not raw.strip():
        raise InvalidValue("bounce message", "", "the request body is empty; send the raw message")
    if len(raw) > MAX_BOUNCE_BYTES:
        raise InvalidValue("bounce message", f"{len(raw)} bytes", f"is larger than {MAX_BOUNCE_BYTES} bytes")
    return await run_in_threadpool(explain_bounce, raw)
