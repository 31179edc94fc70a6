"""`outguard tabl …` — the Tenant Allow/Block List."""

from __future__ import annotations

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, fail, table

app = typer.Typer(help="The Tenant Allow/Block List (addresses, domains, *.wildcards).", no_args_is_help=True)

DaysOpt = typer.Option(None, "--days", help="Expire after N days (block: default 30, at most 90).")
ExpiresOpt = typer.Option(
    None, "--expires", metavar="YYYY-MM-DD", help="Expire at the end of that day (UTC)."
)
NoExpOpt = typer.Option(False, "--no-expiration", help="Never expire (block entries only).")


@app.command("add")
@command
def add(
    ctx: typer.Context,
    tenant: str,
    block: list[str] = typer.Option(
        None, "--block", metavar="VALUE", help="user@example.com, example.com or *.example.com"
    ),
    allow: list[str] = typer.Option(
        None, "--allow", metavar="VALUE", help="Allow entries never override a block."
    ),
    values: list[str] = typer.Argument(None, metavar="[VALUE ...]", help="More values for --block/--allow."),
    days: int = DaysOpt,
    expires: str = ExpiresOpt,
    no_expiration: bool = NoExpOpt,
    notes: str = typer.Option("", "--notes"),
    as_json: bool = JsonOpt,
) -> None:
    """Add block (or allow) entries. All values are checked before anything is written."""
    if bool(block) == bool(allow):
        fail("give --block VALUE [VALUE …] or --allow VALUE [VALUE …]")
    action = "block" if block else "allow"
    rows = app_of(ctx).services.tabl.add(
        tenant,
        [*(block or allow), *(values or [])],
        action=action,
        days=days,
        expires=expires,
        no_expiration=no_expiration,
        notes=notes,
    )
    if as_json:
        return emit_json(rows)
    for r in rows:
        typer.echo(f"{action} {r['value']} ({r['kind']}), expires {r['expires_at'] or 'never'}")


@app.command("list")
@command
def list_(
    ctx: typer.Context,
    tenant: str,
    all_: bool = typer.Option(False, "--all", help="Include expired entries."),
    action: str = typer.Option(None, "--action", metavar="block|allow"),
    as_json: bool = JsonOpt,
) -> None:
    """List a tenant's entries."""
    rows = app_of(ctx).services.tabl.list(tenant, action=action, include_expired=all_)
    if as_json:
        return emit_json(rows)
    table(rows, ["value", "kind", "action", "expires_at", "last_used_at", "modified_by", "notes"])


@app.command("set")
@command
def set_(
    ctx: typer.Context,
    tenant: str,
    values: list[str] = typer.Argument(..., metavar="VALUE ..."),
    days: int = DaysOpt,
    expires: str = ExpiresOpt,
    no_expiration: bool = NoExpOpt,
    notes: str = typer.Option(None, "--notes"),
    allow: bool = typer.Option(False, "--allow", help="Change allow entries instead of block entries."),
    as_json: bool = JsonOpt,
) -> None:
    """Change expiry or notes of entries (values themselves never change)."""
    rows = app_of(ctx).services.tabl.update(
        tenant,
        values,
        action="allow" if allow else "block",
        days=days,
        expires=expires,
        no_expiration=no_expiration,
        notes=notes,
    )
    emit_json(rows) if as_json else typer.echo(f"{len(rows)} entries changed")


@app.command("remove")
@command
def remove(
    ctx: typer.Context,
    tenant: str,
    values: list[str] = typer.Argument(..., metavar="VALUE ..."),
    allow: bool = typer.Option(False, "--allow", help="Remove allow entries instead of block entries."),
) -> None:
    """Remove entries (all or nothing)."""
    app_of(ctx).services.tabl.remove(tenant, values, action="allow" if allow else "block")
    typer.echo(f"{len(values)} entries removed")
