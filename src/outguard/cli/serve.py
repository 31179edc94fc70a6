"""`outguard serve` and `outguard demo`."""

from __future__ import annotations

import asyncio
import logging

import typer

from outguard import app as composition
from outguard.cli.common import app_of, command
from outguard.services import Actor, Services


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@command
def serve(ctx: typer.Context) -> None:
    """Run the gateway until SIGTERM."""
    _logging()
    settings = app_of(ctx).settings
    db = composition.open_database(settings)
    asyncio.run(composition.serve(settings, db))


@command
def demo(ctx: typer.Context) -> None:
    """Serve with a demo tenant (accepted domain, connector for 127.0.0.1, a block entry)."""
    _logging()
    settings = app_of(ctx).settings
    db = composition.open_database(settings)
    svc = Services(db, settings, Actor.system("demo"))
    if not any(t["name"] == "demo" for t in svc.tenants.list()):
        svc.tenants.add("demo")
        svc.domains.add("demo", "demo.example", verified=True)
        svc.connectors.add("demo", "localhost", ips=["127.0.0.1"])
        svc.tabl.add("demo", ["blocked@example.net"], notes="demo block entry")
    host, port = settings.http_address
    typer.echo(f"Demo tenant 'demo' is ready. Admin web: http://{host}:{port}/healthz")
    typer.echo("Try: .venv/bin/outguard tenant show demo   |   .venv/bin/outguard tabl list demo")
    asyncio.run(composition.serve(settings, db))
