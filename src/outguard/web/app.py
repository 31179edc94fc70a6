"""The FastAPI application; routes call the same services as the CLI."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from outguard import __version__
from outguard.config import Settings
from outguard.store import Database


def create_app(settings: Settings, db: Database, node: Any = None) -> FastAPI:
    app = FastAPI(
        title="Outguard",
        version=__version__,
        docs_url="/api/v1/docs",
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.node = node

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Any:
        """Liveness and database reachability, for load balancers (no key needed)."""
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as e:
            return JSONResponse({"status": "error", "database": str(e).splitlines()[0]}, status_code=503)
        return {"status": "ok", "database": db.engine.dialect.name, "version": __version__}

    return app
