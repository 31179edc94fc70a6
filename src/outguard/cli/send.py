"""`outguard send` — a small SMTP client to try the gateway (like swaks), printing every reply."""

from __future__ import annotations

import smtplib
import ssl
import sys
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

import typer

from outguard.cli.common import app_of, fail


def send(
    ctx: typer.Context,
    sender: str = typer.Option(..., "--from", help="Envelope sender (and From: header)."),
    to: list[str] = typer.Option(..., "--to", help="Recipient (repeatable)."),
    server: str = typer.Option(None, "--server", help="host:port (default: the configured smtp_listen)."),
    subject: str = typer.Option("Hello from Outguard", "--subject"),
    body: str = typer.Option("This is a test message sent with `outguard send`.", "--body"),
    count: int = typer.Option(1, "--count", help="Send the message this many times."),
    starttls: bool = typer.Option(False, "--starttls", help="Use STARTTLS (certificate not verified)."),
    auth: str = typer.Option(
        None, "--auth", help="Log in as this mailbox (password on stdin; implies --starttls)."
    ),
) -> None:
    """Send a test message through the gateway and print what it answers."""
    host, _, port = (server or app_of(ctx).settings.smtp_listen).rpartition(":")
    password = sys.stdin.readline().rstrip("\r\n") if auth else None
    failures = 0
    for n in range(1, count + 1):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = (
            sender,
            ", ".join(to),
            subject if count == 1 else f"{subject} ({n})",
        )
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@outguard-send>"
        msg.set_content(body)
        prefix = f"[{n}/{count}] " if count > 1 else ""
        try:
            with smtplib.SMTP(host, int(port), timeout=30) as smtp:
                smtp.ehlo("outguard-send")
                if starttls or auth:
                    ctx_ssl = ssl.create_default_context()
                    ctx_ssl.check_hostname, ctx_ssl.verify_mode = False, ssl.CERT_NONE
                    smtp.starttls(context=ctx_ssl)
                    smtp.ehlo("outguard-send")
                if auth:
                    smtp.login(auth, password or "")
                failures += _transaction(smtp, prefix, sender, to, msg.as_bytes())
        except (OSError, smtplib.SMTPException) as e:
            fail(f"{prefix}could not talk to {host}:{port}: {e}")
    if failures:
        raise typer.Exit(1)


def _say(prefix: str, command: str, code: int, text: bytes | str) -> None:
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    typer.echo(f"{prefix}{command:<28} -> {code} {' '.join(reply.split())}")


def _transaction(smtp: smtplib.SMTP, prefix: str, sender: str, to: list[str], data: bytes) -> int:
    code, text = smtp.mail(sender)
    _say(prefix, f"MAIL FROM:<{sender}>", code, text)
    if code != 250:
        smtp.rset()
        return 1
    accepted = 0
    for r in to:
        code, text = smtp.rcpt(r)
        _say(prefix, f"RCPT TO:<{r}>", code, text)
        accepted += code in (250, 251)
    if not accepted:
        smtp.rset()
        return 1
    try:
        code, text = smtp.data(data)
    except smtplib.SMTPDataError as e:  # refused at the DATA command itself (e.g. 5.7.703)
        code, text = e.smtp_code, e.smtp_error
        smtp.rset()
    _say(prefix, "DATA", code, text)
    return 0 if code == 250 else 1
