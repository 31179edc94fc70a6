"""The admin portal: server-rendered pages over the same services as the API and the CLI."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from outguard.config import Settings
from outguard.web.portal import auth, dashboard, operator, reference, reports, session, tenant_pages, trace
from outguard.web.portal.auth import SignInRequired


def install(app: FastAPI, settings: Settings) -> None:
    app.state.signer = session.Signer(session.load_secret(settings.data_dir))
    for module in (auth, dashboard, trace, reports, reference, operator, tenant_pages):
        app.include_router(module.router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        from urllib.parse import urlencode

        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse("/signin?" + urlencode({"next": target}), status_code=303)
        session.end(response)
        return response
