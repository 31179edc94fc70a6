"""The FastAPI application: `/api/v1`, the admin portal, `/metrics` and `/healthz`.

Routes call the same services as the CLI, always as the actor behind the caller's key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text

from outguard import __version__, metrics
from outguard.config import Settings
from outguard.store import Database
from outguard.web import api, errors, portal

STATIC = Path(__file__).parent / "static"

# No inline scripts or styles anywhere; charts are SVG images of our own origin.
CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": Chromium then sends "Origin: null" on form posts, which the CSRF check refuses.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(settings: Settings, db: Database, node: Any = None) -> FastAPI:
    app = FastAPI(
        title="Outguard",
        version=__version__,
        description="Multi-tenant outbound mail gateway: admin API. Authenticate with "
        "`Authorization: Bearer <key>` (`outguard apikey create`). Errors are "
        '`{"error": {"status": …, "message": …}}`.',
        docs_url=None,  # Swagger UI loads its scripts from a CDN; the portal must work offline
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.node = node
    errors.install(app)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", CSP)
        if "text/html" in response.headers.get("content-type", ""):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.include_router(api.router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Any:
        """Liveness and database reachability, for load balancers (no key needed)."""
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as e:
            return JSONResponse({"status": "error", "database": str(e).splitlines()[0]}, status_code=503)
        return {"status": "ok", "database": db.engine.dialect.name, "version": __version__}

    node_registry = CollectorRegistry(auto_describe=True)
    node_registry.register(metrics.NodeCollector(lambda: app.state.node))

    @app.get("/metrics", include_in_schema=False)
    def prometheus() -> Response:
        """Prometheus text format (no key needed): the mail path's counters and this node's queue."""
        body = generate_latest(metrics.REGISTRY) + generate_latest(node_registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    portal.install(app, settings)
    return app
