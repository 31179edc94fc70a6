"""`outguard mailbox …`"""

from __future__ import annotations

import sys

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, fail, table

app = typer.Typer(help="Mailboxes: SMTP AUTH logins of a tenant.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    if not from_stdin:
        fail("give the password on standard input with --password-stdin (it never goes on the command line)")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("no password on standard input")
    return password


@app.command("add")
@command
def add(
    ctx: typer.Context,
    tenant: str,
    address: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    as_json: bool = JsonOpt,
) -> None:
    """Add an SMTP AUTH mailbox (its address must be in an accepted domain of the tenant)."""
    m = app_of(ctx).services.mailboxes.add(tenant, address, _read_password(password_stdin))
    emit_json(m) if as_json else typer.echo(f"mailbox {m['address']} added")


@app.command("passwd")
@command
def passwd(
    ctx: typer.Context,
    tenant: str,
    address: str,
    password_stdin: bool = typer.Option(False, "--password-stdin"),
) -> None:
    """Set a mailbox's password."""
    app_of(ctx).services.mailboxes.set_password(tenant, address, _read_password(password_stdin))
    typer.echo(f"password of {address} changed")


@app.command("list")
@command
def list_(ctx: typer.Context, tenant: str, as_json: bool = JsonOpt) -> None:
    """List a tenant's mailboxes."""
    rows = app_of(ctx).services.mailboxes.list(tenant)
    emit_json(rows) if as_json else table(rows, ["address", "enabled", "created_at"])


@app.command("remove")
@command
def remove(ctx: typer.Context, tenant: str, address: str) -> None:
    """Remove a mailbox."""
    app_of(ctx).services.mailboxes.remove(tenant, address)
    typer.echo(f"mailbox {address} removed")
