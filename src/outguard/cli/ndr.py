"""`outguard ndr …` — explain any bounce message (NDR/DSN) in plain language."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from outguard.cli.common import JsonOpt, command, emit_json, fail
from outguard.ndr import explain

app = typer.Typer(help="Bounce messages (non-delivery reports).", no_args_is_help=True)


@app.command("explain")
@command
def explain_cmd(
    file: str = typer.Argument(..., metavar="FILE", help="The bounce message (raw .eml); '-' reads stdin."),
    as_json: bool = JsonOpt,
) -> None:
    """Tell what a bounce means: who failed, why, and what the sender and the admin can do."""
    if file == "-":
        raw = sys.stdin.buffer.read()
    else:
        path = Path(file)
        if not path.is_file():
            fail(f"no such file: {file}")
        raw = path.read_bytes()
    result = explain(raw)
    if as_json:
        emit_json(result.to_dict())
        return
    kinds = {
        "bounce": "a bounce (delivery failed)",
        "delay": "a delay notice (delivery is still being retried)",
        "delivered": "a delivery report (the message was delivered), not a bounce",
        "autoreply": "an automatic reply, not a bounce",
        "feedback": "a feedback-loop (complaint) report, not a bounce",
        "not-a-bounce": "not a bounce",
    }
    typer.echo(f"This message is {kinds.get(result.kind, result.kind)}.")
    if result.reporting_mta:
        typer.echo(f"Reported by: {result.reporting_mta}")
    for item in result.recipients:
        f = item.failure
        code = " ".join(x for x in (f.reply_code, f.status) if x) or "no status code"
        typer.echo("")
        typer.echo(f"{f.recipient}: {f.action or 'failed'} ({code}, reason: {f.reason})")
        if f.diagnostic:
            typer.echo(f"  Server said:  {f.diagnostic[:400]}")
        if f.remote_mta:
            typer.echo(f"  Remote MTA:   {f.remote_mta}")
        typer.echo(f"  What happened: {item.remedy.summary}")
        typer.echo(f"  What you can do: {item.remedy.sender_fix}")
        typer.echo(f"  What your admin can do: {item.remedy.admin_fix}")
