"""`outguard connector …`"""

from __future__ import annotations

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, table

app = typer.Typer(
    help="Connectors: the tenant's own servers, by IP range or certificate.", no_args_is_help=True
)


@app.command("add")
@command
def add(
    ctx: typer.Context,
    tenant: str,
    name: str,
    ip: list[str] = typer.Option(None, "--ip", metavar="CIDR", help="IPv4 address or range (repeatable)."),
    cert_domain: str = typer.Option(None, "--cert-domain", help="Domain in the client certificate."),
    as_json: bool = JsonOpt,
) -> None:
    """Add an IP-based or certificate-based connector."""
    c = app_of(ctx).services.connectors.add(tenant, name, ips=ip or None, cert_domain=cert_domain)
    if as_json:
        return emit_json(c)
    what = ", ".join(c["ips"]) if c["kind"] == "ip" else f"certificate {c['cert_domain']}"
    typer.echo(f"connector {c['name']} added for tenant {tenant}: {what}")


@app.command("list")
@command
def list_(ctx: typer.Context, tenant: str, as_json: bool = JsonOpt) -> None:
    """List a tenant's connectors."""
    rows = app_of(ctx).services.connectors.list(tenant)
    emit_json(rows) if as_json else table(
        rows, ["name", "kind", "ips", "cert_domain", "created_at", "created_by"]
    )


@app.command("remove")
@command
def remove(ctx: typer.Context, tenant: str, name: str) -> None:
    """Remove a connector."""
    app_of(ctx).services.connectors.remove(tenant, name)
    typer.echo(f"connector {name} removed")
