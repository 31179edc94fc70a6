"""`outguard serve` and `outguard demo`."""

from __future__ import annotations

import logging

import typer

from outguard.cli.common import app_of, command


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
    )
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter


@command
def serve(ctx: typer.Context) -> None:
    """Run the gateway: SMTP relay, delivery, admin web — until SIGTERM (which drains gracefully)."""
    # Imported here, not at the top: the gateway and its web app take about a second to import,
    # which every other CLI command would pay for nothing.
    from outguard import app as composition

    _logging()
    composition.serve(app_of(ctx).settings)


@command
def demo(ctx: typer.Context) -> None:
    """Serve with a demo tenant; relayed mail is captured locally instead of sent to the internet."""
    from outguard.demo import run_demo

    _logging()
    run_demo(app_of(ctx).settings)
