"""`outguard reputation …` and `outguard ip-exception …` (the inputs of 5.7.708)."""

from __future__ import annotations

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, table

reputation = typer.Typer(help="The local list of low-reputation client IPs.", no_args_is_help=True)
ip_exception = typer.Typer(help="IP exceptions for trial tenants (operator).", no_args_is_help=True)


@reputation.command("add")
@command
def rep_add(
    ctx: typer.Context,
    cidr: str,
    reason: str = typer.Option(..., "--reason"),
    expires: str = typer.Option(None, "--expires", metavar="YYYY-MM-DD"),
    as_json: bool = JsonOpt,
) -> None:
    """Mark client IPs as low reputation."""
    r = app_of(ctx).services.reputation.add(cidr, reason=reason, expires=expires)
    emit_json(r) if as_json else typer.echo(f"{r['cidr']} listed as low reputation")


@reputation.command("list")
@command
def rep_list(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List the low-reputation ranges."""
    rows = app_of(ctx).services.reputation.list()
    emit_json(rows) if as_json else table(rows, ["cidr", "reason", "expires_at", "added_by"])


@reputation.command("remove")
@command
def rep_remove(ctx: typer.Context, cidr: str) -> None:
    """Remove a range from the low-reputation list."""
    app_of(ctx).services.reputation.remove(cidr)
    typer.echo(f"{cidr} removed from the low-reputation list")


@ip_exception.command("add")
@command
def exc_add(
    ctx: typer.Context,
    tenant: str,
    cidr: str,
    reason: str = typer.Option(..., "--reason"),
    expires: str = typer.Option(None, "--expires", metavar="YYYY-MM-DD"),
    as_json: bool = JsonOpt,
) -> None:
    """Let a trial tenant send from a low-reputation range."""
    e = app_of(ctx).services.ip_exceptions.add(tenant, cidr, reason=reason, expires=expires)
    emit_json(e) if as_json else typer.echo(
        f"IP exception {e['cidr']} granted to {tenant}, expires {e['expires_at'] or 'never'}"
    )


@ip_exception.command("list")
@command
def exc_list(ctx: typer.Context, tenant: str, as_json: bool = JsonOpt) -> None:
    """List a tenant's IP exceptions."""
    rows = app_of(ctx).services.ip_exceptions.list(tenant)
    emit_json(rows) if as_json else table(rows, ["cidr", "reason", "expires_at", "granted_by"])


@ip_exception.command("remove")
@command
def exc_remove(ctx: typer.Context, tenant: str, cidr: str) -> None:
    """Revoke an IP exception."""
    app_of(ctx).services.ip_exceptions.remove(tenant, cidr)
    typer.echo(f"IP exception {cidr} of {tenant} revoked")
