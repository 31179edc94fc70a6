"""`outguard demo`: the gateway with a demo tenant, and a local capture of relayed mail.

The demo relays everything to a small SMTP sink on loopback that writes each message into
`<data_dir>/demo-mail/`, so a newcomer sees real delivery without sending anything to the internet.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import socket
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP as SinkSMTP

from outguard import app as composition
from outguard.config import Settings
from outguard.services import Actor, Services

log = logging.getLogger("outguard.demo")

TENANT = "demo"
DOMAIN = "demo.example"
BLOCKED = "blocked@example.net"
ALLOWANCE = 3  # the demo tenant's unregistered-domain allowance, so 5.7.750 shows after a few messages


class CaptureHandler:
    """Writes every message it receives to a directory as an .eml file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{self.count:04d}.eml"
        header = (
            f"X-Demo-Envelope: from <{envelope.mail_from}> to {', '.join(envelope.rcpt_tos)}\r\n".encode()
        )
        (self.directory / name).write_bytes(header + envelope.original_content)
        log.info("captured a message for %s in %s", ", ".join(envelope.rcpt_tos), self.directory / name)
        return "250 2.0.0 Captured by the Outguard demo"


def seed(settings: Settings) -> None:
    db = composition.open_database(settings)
    svc = Services(db, settings, Actor.system("demo"))
    if not any(t["name"] == TENANT for t in svc.tenants.list()):
        svc.tenants.add(TENANT)
        svc.tenants.set(TENANT, limits={"unregistered_allowance": ALLOWANCE})
        svc.domains.add(TENANT, DOMAIN, verified=True)
        svc.connectors.add(TENANT, "localhost", ips=["127.0.0.1"])
        svc.tabl.add(TENANT, [BLOCKED], notes="demo block entry", no_expiration=True)
    db.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def instructions(settings: Settings, mail_dir: Path) -> str:
    smtp_host, smtp_port = settings.smtp_address
    http_host, http_port = settings.http_address
    og = ".venv/bin/outguard" if Path(".venv/bin/outguard").exists() else "outguard"
    swaks = shutil.which("swaks")
    lines = [
        "",
        "Outguard demo is running.",
        f"  SMTP relay : {smtp_host}:{smtp_port}   tenant '{TENANT}': connector for 127.0.0.1, "
        f"verified domain {DOMAIN}",
        f"  Admin web  : http://{http_host}:{http_port}/healthz",
        f"  Relayed mail is captured in {mail_dir}/ instead of going to the internet.",
        "",
        "In another terminal (in this directory), try:",
        "  1. A message that is relayed and delivered:",
        f"     {og} send --from alice@{DOMAIN} --to bob@example.org",
        f"  2. 550 5.7.703 — {BLOCKED} is on the demo tenant's block list, so the whole message is refused:",
        f"     {og} send --from alice@{DOMAIN} --to bob@example.org --to {BLOCKED}",
        f"  3. 550 5.7.750 — the demo tenant tolerates {ALLOWANCE} messages a day from domains it has not verified:",
        f"     {og} send --from app@unregistered.example --to bob@example.org --count {ALLOWANCE + 1}",
        "  4. Everything above, in the message trace (add --json for scripts):",
        f"     {og} trace --tenant {TENANT}",
    ]
    if swaks:
        lines += [
            "",
            "With swaks:",
            f"     swaks --server {smtp_host}:{smtp_port} --from alice@{DOMAIN} --to {BLOCKED}",
        ]
    lines += ["", "Stop the demo with Ctrl-C.", ""]
    return "\n".join(lines)


async def _run(settings: Settings, mail_dir: Path, sink_port: int) -> None:
    loop = asyncio.get_running_loop()
    handler = CaptureHandler(mail_dir)
    sink = await loop.create_server(
        lambda: SinkSMTP(handler, hostname="demo-capture"), "127.0.0.1", sink_port
    )
    node = composition.Node(settings, 0, web=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await node.start()
    print(instructions(settings, mail_dir), flush=True)
    await stop.wait()
    await node.stop()
    sink.close()


def run_demo(settings: Settings) -> None:
    seed(settings)
    mail_dir = (settings.data_dir / "demo-mail").resolve()
    mail_dir.mkdir(parents=True, exist_ok=True)
    sink_port = _free_port()
    demo_settings = settings.model_copy(update={"smarthost": f"127.0.0.1:{sink_port}"})
    demo_settings.smtp.processes = 1
    composition.run(_run(demo_settings, mail_dir, sink_port))
