"""Typed FastAPI dependencies: settings, the database, and the actor behind a bearer key.

Every API route reaches data only through `ServicesDep` — `Services(db, settings, actor)` built
from the caller's key — so the store's tenant filter applies to everything a route reads or writes.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from outguard.config import Settings
from outguard.errors import Unauthorized
from outguard.services import Actor, Services
from outguard.store import Database

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="An API key from `outguard apikey create`: operator keys see every tenant, tenant keys one.",
)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_db(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_db)]


def bearer_actor(
    db: DatabaseDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor behind `Authorization: Bearer <key>`; 401 without a valid key."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>' (outguard apikey create)")
    return Services(db, settings, Actor.system("web")).apikeys.authenticate(credentials.credentials)


ActorDep = Annotated[Actor, Depends(bearer_actor)]


def services(db: DatabaseDep, settings: SettingsDep, actor: ActorDep) -> Services:
    return Services(db, settings, actor)


ServicesDep = Annotated[Services, Depends(services)]


def live_counts(request: Request, tenant: str) -> dict[str, int] | None:
    """The gateway's live counters for a tenant, when this web process runs inside a gateway node.

    Routes are sync (FastAPI runs them in threads, off the SMTP event loop); the counters live on
    that loop, so the read is handed to it and awaited here.
    """
    node = getattr(request.app.state, "node", None)
    engine, loop = getattr(node, "engine", None), getattr(node, "loop", None)
    if engine is None or loop is None:
        return None
    try:
        return asyncio.run_coroutine_threadsafe(engine.live_counts(tenant), loop).result(timeout=5)
    except (TimeoutError, RuntimeError):
        return None
