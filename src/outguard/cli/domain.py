"""`outguard domain …`"""

from __future__ import annotations

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, show, table

app = typer.Typer(help="Accepted domains of a tenant and their DNS verification.", no_args_is_help=True)


@app.command("add")
@command
def add(
    ctx: typer.Context,
    tenant: str,
    domain: str,
    verified: bool = typer.Option(
        False, "--verified", help="Attest ownership without DNS (operator, audited)."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Add an accepted domain; prints the DNS TXT record that proves ownership."""
    d = app_of(ctx).services.domains.add(tenant, domain, verified=verified)
    if as_json:
        return emit_json(d)
    if d["verified"]:
        typer.echo(f"domain {d['domain']} added and marked verified ({d['verified_by']})")
    else:
        typer.echo(
            f"domain {d['domain']} added. Publish this DNS record, then run "
            f"`outguard domain verify {tenant} {d['domain']}`:"
        )
        typer.echo(d["txt_record"])


@app.command("verify")
@command
def verify(ctx: typer.Context, tenant: str, domain: str, as_json: bool = JsonOpt) -> None:
    """Look the verification TXT record up in DNS and mark the domain verified."""
    d = app_of(ctx).services.domains.verify(tenant, domain)
    emit_json(d) if as_json else typer.echo(f"domain {d['domain']} verified")


@app.command("list")
@command
def list_(ctx: typer.Context, tenant: str, as_json: bool = JsonOpt) -> None:
    """List a tenant's accepted domains."""
    rows = app_of(ctx).services.domains.list(tenant)
    if as_json:
        return emit_json(rows)
    table(rows, ["domain", "verified", "verified_by", "txt_record"])


@app.command("remove")
@command
def remove(ctx: typer.Context, tenant: str, domain: str) -> None:
    """Remove an accepted domain."""
    app_of(ctx).services.domains.remove(tenant, domain)
    typer.echo(f"domain {domain} removed")


__all__ = ["app", "show"]
