"""`outguard codes` — the status-code catalogue: what each code means and how to fix it."""

from __future__ import annotations

from dataclasses import asdict

import typer

from outguard import codes
from outguard.cli.common import JsonOpt, command, emit_json, fail


def markdown() -> str:
    """The catalogue as Markdown (docs/status-codes.md is this, kept in sync by a test)."""
    lines = [
        "# Status codes",
        "",
        "Generated from the status-code catalogue (`src/outguard/codes.py`) with "
        "`outguard codes --markdown`. Codes marked *Outguard* are ones the gateway itself answers with.",
        "",
    ]
    for c in codes.ALL_CODES:
        origin = "Outguard" if c.outguard else "Exchange Online / other servers"
        lines += [
            f"## {c.reply} {c.enhanced} — {c.name}",
            "",
            f"`{c.reply_line(recipients='<recipients>')}`",
            "",
            f"- **Produced by:** {origin}",
            f"- **What happened:** {c.cause}",
            f"- **What the sender can do:** {c.sender_fix}",
            f"- **What the admin can do:** {c.admin_fix}",
        ]
        if c.lifted_by:
            lines.append(f"- **Who lifts it:** {c.lifted_by}")
        if c.report:
            lines.append(f"- **Report with the evidence:** `outguard report {c.report}`")
        lines.append(f"- **Bounce reason:** {c.reason}")
        lines.append("")
    return "\n".join(lines)


@command
def codes_command(
    code: str = typer.Argument(None, help="An enhanced status code, e.g. 5.7.705."),
    as_json: bool = JsonOpt,
    as_markdown: bool = typer.Option(False, "--markdown", help="The whole catalogue as Markdown."),
) -> None:
    """What a status code means, what the sender and the admin can do."""
    if as_markdown:
        typer.echo(markdown(), nl=False)
        return
    if code is None:
        rows = [
            {"code": f"{c.reply} {c.enhanced}", "name": c.name, "outguard": c.outguard}
            for c in codes.ALL_CODES
        ]
        if as_json:
            return emit_json([asdict(c) for c in codes.ALL_CODES])
        for r in rows:
            typer.echo(f"{r['code']:<12} {'*' if r['outguard'] else ' '} {r['name']}")
        return
    entry = codes.lookup(code)
    if entry is None:
        fail(f"unknown status code {code!r} (try `outguard codes` for the list)")
        return
    if as_json:
        return emit_json(asdict(entry))
    typer.echo(entry.reply_line(recipients="<recipients>"))
    typer.echo(f"\nWhat happened:           {entry.cause}")
    typer.echo(f"What the sender can do:  {entry.sender_fix}")
    typer.echo(f"What the admin can do:   {entry.admin_fix}")
    if entry.lifted_by:
        typer.echo(f"Who lifts it:            {entry.lifted_by}")
    if entry.report:
        typer.echo(f"Evidence:                outguard report {entry.report}")
