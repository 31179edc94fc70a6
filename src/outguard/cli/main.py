"""The `outguard` command: global options and the sub-commands."""

from __future__ import annotations

import typer

from outguard.cli import (
    abuse,
    apikey,
    codes,
    connector,
    domain,
    mailbox,
    ndr,
    report,
    reputation,
    send,
    serve,
    tabl,
    tenant,
    trace,
)
from outguard.cli.common import App

app = typer.Typer(
    help="Outguard: a multi-tenant outbound mail gateway.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main_options(
    ctx: typer.Context,
    config: str = typer.Option(
        None,
        "--config",
        "-c",
        envvar="OUTGUARD_CONFIG",
        help="TOML configuration file (default ./outguard.toml if present).",
    ),
) -> None:
    ctx.obj = App(config)


app.add_typer(tenant.app, name="tenant")
app.add_typer(domain.app, name="domain")
app.add_typer(connector.app, name="connector")
app.add_typer(mailbox.app, name="mailbox")
app.add_typer(tabl.app, name="tabl")
app.add_typer(reputation.reputation, name="reputation")
app.add_typer(reputation.ip_exception, name="ip-exception")
app.add_typer(apikey.app, name="apikey")
app.add_typer(ndr.app, name="ndr")
app.command("audit")(apikey.audit)
app.command("serve")(serve.serve)
app.command("demo")(serve.demo)
app.command("trace")(trace.trace)
app.command("report")(report.report)
app.command("send")(send.send)
app.add_typer(abuse.restricted, name="restricted")
app.add_typer(abuse.delisting, name="delisting")
app.command("alerts")(abuse.alerts)
app.command("codes")(codes.codes_command)


def main() -> None:
    app()
