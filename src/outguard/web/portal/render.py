"""Rendering portal pages: Jinja2 with autoescaping, helpers for status-code links, error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from outguard import codes
from outguard.ndr.explain import describe
from outguard.web.portal import session

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def code_entry(code: str | None, text: str = "") -> codes.StatusCode | None:
    """The catalogue entry to link a shown code to (specific entries, or the RFC 3463 class)."""
    if not code:
        return None
    return describe(code, text)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,  # every value is escaped unless a template says otherwise (none does)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["code_entry"] = code_entry
    env.filters["when"] = lambda v: (v or "").replace("T", " ").replace("Z", "")[:19] or "—"
    return env


templates = Jinja2Templates(env=_environment())


def page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    user = getattr(request.state, "user", None)
    ctx = {
        "user": user,
        "csrf": user.csrf if user else "",
        "flash": session.take_flash(request),
        "nav": getattr(request.state, "nav", ""),
        **context,
    }
    response = templates.TemplateResponse(request, name, ctx, status_code=status)
    if ctx["flash"]:
        response.delete_cookie(session.FLASH_COOKIE, path="/")
    return response  # type: ignore[no-any-return]


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return page(request, "error.html", {"status": status, "message": message}, status=status)
