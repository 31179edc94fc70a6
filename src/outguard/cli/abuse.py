"""`outguard restricted …`, `outguard delisting …` and `outguard alerts`: the way back from a block."""

from __future__ import annotations

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, table

restricted = typer.Typer(help="Restricted senders (550 5.1.8): list and release.", no_args_is_help=True)
delisting = typer.Typer(help="Delisting requests of blocked tenants (550 5.7.705).", no_args_is_help=True)


@restricted.command("list")
@command
def restricted_list(
    ctx: typer.Context,
    tenant: str,
    all_: bool = typer.Option(False, "--all", help="Include released and expired restrictions."),
    as_json: bool = JsonOpt,
) -> None:
    """Senders of a tenant restricted for exceeding their outbound limits."""
    rows = app_of(ctx).services.restricted.list(tenant, include_released=all_)
    emit_json(rows) if as_json else table(
        rows, ["address", "limit", "count", "threshold", "action", "until", "active"]
    )


@restricted.command("release")
@command
def restricted_release(
    ctx: typer.Context,
    tenant: str,
    address: str,
    reason: str = typer.Option("", "--reason", help="Why (kept in the audit log)."),
) -> None:
    """Let a restricted sender send again (it is not restricted again the same day)."""
    app_of(ctx).services.restricted.release(tenant, address, reason=reason)
    typer.echo(f"{address} released")


@delisting.command("list")
@command
def delisting_list(
    ctx: typer.Context,
    tenant: str = typer.Option(None, "--tenant"),
    status: str = typer.Option(None, "--status", metavar="open|accepted|rejected"),
    as_json: bool = JsonOpt,
) -> None:
    """Delisting requests, newest first."""
    rows = app_of(ctx).services.delisting.list(tenant=tenant, status=status)
    emit_json(rows) if as_json else table(
        rows, ["id", "tenant", "code", "status", "created_at", "explanation"]
    )


@delisting.command("file")
@command
def delisting_file(
    ctx: typer.Context,
    tenant: str,
    explanation: str = typer.Option(..., "--explanation", help="The cause and what was fixed."),
    as_json: bool = JsonOpt,
) -> None:
    """File a request to lift a tenant's block."""
    d = app_of(ctx).services.delisting.file(tenant, explanation=explanation)
    emit_json(d) if as_json else typer.echo(f"delisting request {d['id']} filed for {tenant}")


@delisting.command("accept")
@command
def delisting_accept(
    ctx: typer.Context,
    request_id: int,
    reason: str = typer.Option(..., "--reason", help="Cause and remedy; kept in the audit log."),
) -> None:
    """Accept a request: the tenant is unblocked (operator)."""
    d = app_of(ctx).services.delisting.decide(request_id, accept=True, response=reason)
    typer.echo(f"delisting request {d['id']} accepted; tenant {d['tenant']} unblocked")


@delisting.command("reject")
@command
def delisting_reject(
    ctx: typer.Context,
    request_id: int,
    reason: str = typer.Option(..., "--reason", help="Why; the tenant admin sees it."),
) -> None:
    """Reject a request (operator)."""
    d = app_of(ctx).services.delisting.decide(request_id, accept=False, response=reason)
    typer.echo(f"delisting request {d['id']} rejected")


@command
def alerts(
    ctx: typer.Context,
    tenant: str = typer.Option(None, "--tenant"),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOpt,
) -> None:
    """Alerts raised by the protections (early warnings, blocks, restrictions), newest first."""
    rows = app_of(ctx).services.alerts.list(tenant=tenant, limit=limit)
    emit_json(rows) if as_json else table(rows, ["at", "tenant", "kind", "severity", "message"])
