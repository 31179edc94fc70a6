"""The composition root: build every part from the settings and run them until SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn

from outguard.config import Settings
from outguard.store import Database
from outguard.web import create_app

log = logging.getLogger("outguard")


def open_database(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    return db


async def serve(settings: Settings, db: Database) -> None:
    host, port = settings.http_address
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, db), host=host, port=port, log_level="warning", lifespan="off")
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    log.info("admin web listening on http://%s:%d", host, port)
    await server.serve()
