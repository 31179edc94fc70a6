"""`outguard report …` — the portal's reports on the command line (the same ReportService)."""

from __future__ import annotations

import sys

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, fail, table
from outguard.services.reports import DEFAULT_DAYS, REPORTS


@command
def report(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="|".join(REPORTS), help="Which report."),
    tenant: str = typer.Option(None, "--tenant", help="One tenant (default: all tenants)."),
    days: int = typer.Option(DEFAULT_DAYS, "--days", help="UTC days back, today included (1-90)."),
    as_csv: bool = typer.Option(False, "--csv", help="The report's rows as CSV on stdout."),
    as_json: bool = JsonOpt,
) -> None:
    """Show a report: mailflow, spam, top-senders, connectors or non-accepted-domains."""
    if as_csv and as_json:
        fail("give --csv or --json, not both")
    data = app_of(ctx).services.reports.report(name, tenant=tenant, days=days)
    if as_json:
        return emit_json(data)
    if as_csv:
        from outguard.web.csvio import to_csv

        sys.stdout.write(to_csv(data["rows"], data["columns"]))
        return
    typer.echo(f"{data['title']} — {data['tenant'] or 'all tenants'}, {data['start']} to {data['end']} (UTC)")
    typer.echo("")
    if name == "top-senders":
        for key, label in (("senders", "Top senders"), ("recipient_domains", "Top recipient domains"),
                           ("spam_senders", "Top spam senders")):  # fmt: skip
            typer.echo(label)
            table(data[key], ["rank", "value", "messages"], empty="(none)")
            typer.echo("")
        return
    columns = [c for c in data["columns"] if c not in ("sample_queue_ids",)]
    if name == "connectors":
        columns = ["date", "tenant", "connector", "messages", "no_tls", "unregistered", "unusual"]
    table(data["rows"], columns, empty="(no mail in this period)")
    if "totals" in data:
        typer.echo("")
        typer.echo("totals: " + ", ".join(f"{k} {v}" for k, v in data["totals"].items()))
