"""The status-code catalogue as pages (public: the same text every NDR carries) and the bounce explainer."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from outguard import codes
from outguard.errors import InvalidValue, NotFound, OutguardError
from outguard.ndr.explain import describe
from outguard.services.reports import REPORTS
from outguard.web.api.reference import MAX_BOUNCE_BYTES, explain_bounce
from outguard.web.portal import session
from outguard.web.portal.auth import FormDep, UserDep
from outguard.web.portal.render import page

router = APIRouter()


@router.get("/codes", include_in_schema=False)
def codes_page(request: Request) -> Response:
    request.state.nav = "codes"
    return page(
        request,
        "codes.html",
        {"ours": codes.OUTGUARD_CODES, "others": [c for c in codes.ALL_CODES if not c.outguard]},
    )


@router.get("/codes/{anchor}", include_in_schema=False)
def code_page(request: Request, anchor: str) -> Response:
    request.state.nav = "codes"
    entry = codes.by_anchor(anchor)
    if entry is None:
        dotted = anchor.replace("-", ".")
        if not re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", dotted):
            raise NotFound(f"no status code {anchor!r} in the catalogue")
        entry = describe(dotted)  # not catalogued: explained by its RFC 3463 class
    return page(request, "code.html", {"c": entry, "report": REPORTS.get(entry.report or "")})


@router.get("/ndr", include_in_schema=False)
def ndr_page(request: Request, user: UserDep) -> Response:
    request.state.nav = "ndr"
    return page(request, "ndr.html", {"result": None, "error": None, "raw": ""})


@router.post("/ndr", include_in_schema=False)
async def ndr_explain(request: Request, user: UserDep, form: FormDep) -> Response:
    from starlette.datastructures import UploadFile

    request.state.nav = "ndr"
    upload = form.get("file")
    raw = (
        await upload.read()
        if isinstance(upload, UploadFile) and upload.filename
        else str(form.get("raw", "")).encode()
    )
    error, result, status = None, None, 200
    try:
        if not raw.strip():
            raise InvalidValue("bounce message", "", "paste the bounce or choose its .eml file")
        if len(raw) > MAX_BOUNCE_BYTES:
            raise InvalidValue(
                "bounce message", f"{len(raw)} bytes", f"is larger than {MAX_BOUNCE_BYTES} bytes"
            )
        result = await run_in_threadpool(explain_bounce, raw)
    except OutguardError as e:
        error, status = str(e), e.status
    shown = raw.decode("utf-8", "replace")[:20000]
    return page(request, "ndr.html", {"result": result, "error": error, "raw": shown}, status=status)


__all__ = ["router", "session"]
