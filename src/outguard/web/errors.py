"""One error format for the whole web side: `{"error": {"status": 422, "message": "…"}}` for the
API, a readable page for the portal — for service errors, validation errors and unknown routes alike."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from outguard.errors import OutguardError, Unauthorized

_REASONS = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
}


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path in ("/metrics", "/healthz")


def error_response(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="outguard"'}
    if wants_json(request):
        return JSONResponse({"error": {"status": status, "message": message}}, status, headers=headers)
    from outguard.web.portal.render import error_page

    return error_page(request, status, message)


def _location(loc: tuple[Any, ...]) -> str:
    where = {"body": "body", "query": "query parameter", "path": "path parameter", "header": "header"}
    if not loc:
        return "request"
    head, *rest = loc
    name = ".".join(str(p) for p in rest)
    return f"{where.get(str(head), str(head))} {name!r}" if name else where.get(str(head), str(head))


def validation_message(err: RequestValidationError) -> tuple[int, str]:
    errors = err.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        return 400, "malformed JSON body: " + str(first.get("ctx", {}).get("error", first.get("msg")))
    value = first.get("input")
    shown = "" if isinstance(value, dict) or value is None else f" {value!r}"
    if len(shown) > 80:
        shown = shown[:77] + "…"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return 422, f"invalid {_location(tuple(first.get('loc', ())))}{shown}: {first.get('msg')}{more}"


def install(app: FastAPI) -> None:
    @app.exception_handler(OutguardError)
    async def _service_error(request: Request, exc: OutguardError) -> Response:
        return error_response(request, exc.status, str(exc))

    @app.exception_handler(PermissionError)
    async def _store_refusal(request: Request, exc: PermissionError) -> Response:
        # The store refused to write another tenant's row: a bug upstream, but never a leak.
        return error_response(request, 403, "not permitted for this key's tenant")

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        status, message = validation_message(exc)
        return error_response(request, status, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else _REASONS.get(exc.status_code, "error")
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such page or route: {request.method} {request.url.path}"
        if exc.status_code == 405 and message == "Method Not Allowed":
            message = f"method {request.method} is not allowed on {request.url.path}"
        return error_response(request, exc.status_code, message, dict(exc.headers or {}))


__all__ = ["Unauthorized", "error_response", "install", "validation_message", "wants_json"]
