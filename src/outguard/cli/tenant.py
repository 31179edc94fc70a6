"""`outguard tenant …`"""

from __future__ import annotations

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, fail, show, table

app = typer.Typer(help="Create, inspect, license, block and unblock tenants.", no_args_is_help=True)


@app.command("add")
@command
def add(
    ctx: typer.Context,
    name: str,
    trial: bool = typer.Option(False, "--trial", help="An unlicensed (trial) tenant."),
    subscription_expires: str = typer.Option(None, "--subscription-expires", metavar="YYYY-MM-DD"),
    as_json: bool = JsonOpt,
) -> None:
    """Create a tenant."""
    t = app_of(ctx).services.tenants.add(name, trial=trial, subscription_expires=subscription_expires)
    emit_json(t) if as_json else typer.echo(
        f"tenant {t['name']} created ({'licensed' if t['licensed'] else 'trial'})"
    )


@app.command("list")
@command
def list_(ctx: typer.Context, as_json: bool = JsonOpt) -> None:
    """List tenants."""
    rows = app_of(ctx).services.tenants.list()
    if as_json:
        return emit_json(rows)
    for r in rows:
        r["licence"] = "licensed" if r["licensed"] else "trial"
        r["block_code"] = (r["block"] or {}).get("code")
    table(rows, ["name", "licence", "status", "block_code", "subscription_expires", "tabl_mode"])


@app.command("show")
@command
def show_(ctx: typer.Context, name: str, as_json: bool = JsonOpt) -> None:
    """Show one tenant: licence, status, block, settings and counts."""
    show(app_of(ctx).services.tenants.show(name), as_json)


@app.command("set")
@command
def set_(
    ctx: typer.Context,
    name: str,
    licensed: bool = typer.Option(None, "--licensed/--trial", help="Licensed or trial."),
    subscription_expires: str = typer.Option(None, "--subscription-expires", metavar="YYYY-MM-DD"),
    no_subscription_expiry: bool = typer.Option(False, "--no-subscription-expiry"),
    tabl_mode: str = typer.Option(None, "--tabl-mode", metavar="whole-message|per-recipient"),
    alert_address: str = typer.Option(
        None, "--alert-address", help="Where alerts about the tenant are mailed."
    ),
    limit: list[str] = typer.Option(
        None,
        "--limit",
        metavar="KEY=VALUE",
        help="Override a limit for this tenant (repeatable; VALUE 'default' removes it), e.g. spam_ratio=0.5.",
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Change licence, subscription expiry, allow/block list mode, alert address or limits."""
    limits = None
    if limit:
        limits = {}
        for item in limit:
            key, eq, value = item.partition("=")
            if not eq:
                fail(f"invalid --limit {item!r}: expected KEY=VALUE")
            limits[key.strip()] = value.strip()
    t = app_of(ctx).services.tenants.set(
        name,
        licensed=licensed,
        subscription_expires=subscription_expires,
        clear_subscription=no_subscription_expiry,
        tabl_mode=tabl_mode,
        alert_address=alert_address,
        limits=limits,
    )
    show(t, as_json)


@app.command("block")
@command
def block(
    ctx: typer.Context,
    name: str,
    reason: str = typer.Option(..., "--reason", help="Why the tenant is blocked (kept in the audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """Block all outbound mail of a tenant (550 5.7.705). Operator only."""
    t = app_of(ctx).services.tenants.block(name, reason=reason)
    emit_json(t) if as_json else typer.echo(f"tenant {t['name']} blocked: {t['block']['code']}")


@app.command("unblock")
@command
def unblock(
    ctx: typer.Context,
    name: str,
    reason: str = typer.Option(..., "--reason", help="Cause and remedy (required, kept in the audit log)."),
    as_json: bool = JsonOpt,
) -> None:
    """Lift a tenant's block. Operator only; the reason is required."""
    t = app_of(ctx).services.tenants.unblock(name, reason=reason)
    emit_json(t) if as_json else typer.echo(f"tenant {t['name']} unblocked")
