"""`outguard apikey …` and `outguard audit`"""

from __future__ import annotations

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, table

app = typer.Typer(help="API keys for /api/v1 and the portal.", no_args_is_help=True)


@app.command("create")
@command
def create(
    ctx: typer.Context,
    operator: bool = typer.Option(False, "--operator", help="A key that sees all tenants."),
    tenant: str = typer.Option(None, "--tenant", help="A key scoped to one tenant."),
    label: str = typer.Option("", "--label"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a key. The key is printed once, on the last line; only its hash is stored."""
    k = app_of(ctx).services.apikeys.create(operator=operator, tenant=tenant, label=label)
    if as_json:
        return emit_json(k)
    scope = "operator" if operator else f"tenant {tenant}"
    typer.echo(f"API key for {scope} (shown only once):")
    typer.echo(k["key"])


@app.command("list")
@command
def list_(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List keys (never their secret)."""
    rows = app_of(ctx).services.apikeys.list()
    emit_json(rows) if as_json else table(
        rows, ["prefix", "role", "tenant", "label", "created_at", "last_used_at", "revoked"]
    )


@app.command("revoke")
@command
def revoke(ctx: typer.Context, prefix: str) -> None:
    """Revoke a key by its prefix (as listed)."""
    app_of(ctx).services.apikeys.revoke(prefix)
    typer.echo(f"key {prefix} revoked")


def audit(
    ctx: typer.Context,
    tenant: str = typer.Option(None, "--tenant"),
    action: str = typer.Option(None, "--action", help="Action prefix, e.g. tenant.unblock"),
    limit: int = typer.Option(50, "--limit"),
    as_json: bool = JsonOpt,
) -> None:
    """Show the audit log, newest first."""
    rows = app_of(ctx).services.audit.list(tenant=tenant, action=action, limit=limit)
    emit_json(rows) if as_json else table(rows, ["at", "actor", "tenant", "action", "target", "reason"])


audit = command(audit)
