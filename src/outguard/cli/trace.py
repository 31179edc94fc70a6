"""`outguard trace` — search the message trace (one row per message and recipient)."""

from __future__ import annotations

import typer

from outguard.cli.common import JsonOpt, app_of, command, emit_json, show, table


@command
def trace(
    ctx: typer.Context,
    tenant: str = typer.Option(None, "--tenant"),
    sender: str = typer.Option(None, "--sender", help="Address; one * wildcard allowed."),
    recipient: str = typer.Option(
        None, "--recipient", help="Address; one * wildcard allowed (*@example.com)."
    ),
    message_id: str = typer.Option(None, "--message-id", help="Message-ID header or queue id."),
    status: str = typer.Option(
        None, "--status", help="Delivered, Failed, Pending, FilteredAsSpam, Quarantined"
    ),
    code: str = typer.Option(None, "--code", help="Enhanced status code, e.g. 5.7.703"),
    subject: str = typer.Option(None, "--subject", help="Subject contains."),
    client_ip: str = typer.Option(None, "--client-ip"),
    since: str = typer.Option(None, "--since", help="ISO time or e.g. 2h, 3d (default: 48 hours ago)."),
    until: str = typer.Option(None, "--until"),
    limit: int = typer.Option(1000, "--limit"),
    detail: str = typer.Option(
        None, "--detail", metavar="QUEUE_ID", help="Show one message with every event and rule decision."
    ),
    as_json: bool = JsonOpt,
) -> None:
    """Search the message trace, newest first."""
    svc = app_of(ctx).services.trace
    if detail:
        d = svc.detail(detail)
        if as_json:
            return emit_json(d)
        show({k: v for k, v in d.items() if k not in ("recipients", "events")}, False)
        typer.echo("")
        table(d["recipients"], ["recipient", "status", "code", "attempts", "remote_mta", "detail"])
        typer.echo("")
        for e in d["events"]:
            rest = {
                k: v for k, v in e.items() if k not in ("at", "kind", "recipient") and v not in (None, [], "")
            }
            who = f" {e['recipient']}" if e.get("recipient") else ""
            typer.echo(f"{e['at']}  {e['kind']:<9}{who}  {rest}")
        return
    rows = svc.search(
        tenant=tenant,
        sender=sender,
        recipient=recipient,
        message_id=message_id,
        status=status,
        code=code,
        subject=subject,
        client_ip=client_ip,
        since=since,
        until=until,
        limit=limit,
    )
    if as_json:
        return emit_json(rows)
    table(
        rows,
        ["received", "queue_id", "tenant", "sender", "recipient", "status", "code", "subject"],
        empty="no messages match (the default window is the last 48 hours)",
    )
