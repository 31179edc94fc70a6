"""Real mail peers for tests: the gateway as a subprocess, and a scriptable next-hop SMTP server."""

from __future__ import annotations

import os
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as AioSMTP

OUTGUARD = str(Path(sys.executable).with_name("outguard"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll until `predicate()` is truthy; fail the test with `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    mail_options: list[str]
    rcpt_options: list[str]


class _NextHopHandler:
    def __init__(self, hop: NextHop) -> None:
        self.hop = hop

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        with self.hop.lock:
            self.hop.sessions += 1  # one EHLO per client connection: counts connections
        if self.hop.advertise_dsn:
            responses.insert(-1, "250-DSN")
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        reply = self.hop.rcpt_reply(address)
        if reply.startswith("250"):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
        return reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hop.data_reply != "250 2.0.0 Ok":
            return self.hop.data_reply
        with self.hop.lock:
            self.hop.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    list(envelope.mail_options),
                    list(envelope.rcpt_options),
                )
            )
        return "250 2.0.0 Ok: delivered"


class _DsnSMTP(AioSMTP):
    """aiosmtpd that accepts every MAIL/RCPT parameter (recorded raw), to see what the gateway passes on.

    aiosmtpd upper-cases parameters before anyone sees them, but ENVID and ORCPT values are
    case-sensitive (RFC 3461 §4), so the options are recorded as the client wrote them.
    """

    def _getparams(self, params: Any) -> Any:
        return {}  # accept and ignore every parameter; they are recorded raw in the envelope options

    async def smtp_MAIL(self, arg: str) -> None:
        await super().smtp_MAIL(arg)
        if self.envelope is not None and self.envelope.mail_from is not None:
            self.envelope.mail_options = _raw_params(arg)

    async def smtp_RCPT(self, arg: str) -> None:
        before = len(self.envelope.rcpt_tos) if self.envelope is not None else 0
        await super().smtp_RCPT(arg)
        if self.envelope is not None and len(self.envelope.rcpt_tos) > before:
            raw = _raw_params(arg)
            del self.envelope.rcpt_options[len(self.envelope.rcpt_options) - len(raw) :]
            self.envelope.rcpt_options.extend(raw)


def _raw_params(arg: str | None) -> list[str]:
    """The parameters after the address of `MAIL FROM:<a> P=1 …` / `RCPT TO:<a> P=1 …`, as written."""
    return (arg or "").partition(">")[2].split()


class NextHop:
    """A real SMTP server on loopback. Replies per recipient come from `rules` (substring -> reply)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.messages: list[Received] = []
        self.rules: dict[str, str] = {}
        self.data_reply = "250 2.0.0 Ok"
        self.advertise_dsn = False
        self.sessions = 0  # SMTP sessions (EHLO) the hop has seen
        self.lock = threading.Lock()
        self.controller = Controller(
            _NextHopHandler(self),
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="nexthop.test",
            ready_timeout=10,
        )
        self.controller.factory = lambda: _DsnSMTP(self.controller.handler, hostname="nexthop.test")

    def rcpt_reply(self, address: str) -> str:
        for needle, reply in self.rules.items():
            if needle in address:
                return reply
        return "250 2.1.5 Ok"

    def start(self) -> NextHop:
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller._thread is not None:  # idempotent: tests stop a hop to simulate an outage
            self.controller.stop()

    def wait(self, count: int = 1, timeout: float = 15.0) -> list[Received]:
        wait_for(lambda: len(self.messages) >= count, timeout, what=f"{count} message(s) at the next hop")
        return self.messages

    def reports(self) -> list[Received]:
        """Messages from the null sender: the NDRs and other DSNs the gateway sent."""
        with self.lock:
            return [m for m in self.messages if m.sender in ("", "<>")]

    def wait_report(self, count: int = 1, timeout: float = 15.0) -> list[Received]:
        wait_for(lambda: len(self.reports()) >= count, timeout, what=f"{count} DSN(s) at the next hop")
        return self.reports()


class RawClient:
    """An SMTP client that writes exactly the bytes it is given and reads whole replies."""

    def __init__(self, port: int) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _line(self) -> bytes | None:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def reply(self) -> tuple[int, str]:
        """One reply (multi-line replies joined); (0, "") once the server has closed."""
        lines = []
        while True:
            line = self._line()
            if line is None:
                return (0, "")
            lines.append(line[4:].decode())
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    def replies(self, n: int) -> list[int]:
        return [self.reply()[0] for _ in range(n)]

    def closed(self) -> bool:
        return self.reply() == (0, "")

    def starttls(self, context: ssl.SSLContext) -> None:
        """Switch to TLS after the server's 220 (whatever the server had not yet read stays plain)."""
        assert not self.buf, "unread data before the TLS handshake"
        self.sock = context.wrap_socket(self.sock)


@dataclass
class Gateway:
    """`outguard serve` as a real process, with its environment and log."""

    env: dict[str, str]
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "gateway.log"

    @property
    def smtp_port(self) -> int:
        return int(self.env["OUTGUARD_SMTP_LISTEN"].rsplit(":", 1)[1])

    @property
    def http_port(self) -> int:
        return int(self.env["OUTGUARD_HTTP_LISTEN"].rsplit(":", 1)[1])

    def cli(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [OUTGUARD, *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            input=input,
            timeout=60,
            cwd=self.workdir,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"outguard {' '.join(args)} failed: {done.stderr}")
        return done

    def start(self) -> Gateway:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [OUTGUARD, "serve"],
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        try:
            wait_for(self._ready, 30, what="the gateway's SMTP greeting")
        except AssertionError as e:
            why = str(e).split(":", 1)[0]  # "timed out …" or "gateway exited with N"
            self.stop()
            raise AssertionError(f"gateway did not start ({why}):\n{self.log.read_text()[-3000:]}") from None
        return self

    def _ready(self) -> bool:
        if self.proc and self.proc.poll() is not None:
            raise AssertionError(
                f"gateway exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}"
            )
        try:
            with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1) as s:
                return s.recv(100).startswith(b"220")
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill(self) -> None:
        """kill -9: no chance to clean up (children die with the parent)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def smtp(self, source: str | None = None) -> smtplib.SMTP:
        s = smtplib.SMTP(
            "127.0.0.1", self.smtp_port, timeout=30, source_address=(source, 0) if source else None
        )
        return s

    def send(
        self,
        sender: str,
        recipients: list[str],
        data: bytes,
        *,
        mail_options: list[str] | None = None,
        rcpt_options: list[str] | None = None,
        source: str | None = None,
    ) -> str:
        """Send one message over SMTP (every step must succeed); returns its queue id."""
        with self.smtp(source) as s:
            s.ehlo("client.acme.example")
            code, reply = s.mail(sender, mail_options or [])
            assert code == 250, (code, reply)
            for r in recipients:
                code, reply = s.rcpt(r, rcpt_options or [])
                assert code == 250, (r, code, reply)
            code, reply = s.data(data)
            assert code == 250, (code, reply)
        return reply.decode().rsplit(" ", 1)[1]

    def detail(self, queue_id: str) -> dict[str, Any]:
        """`outguard trace --detail QUEUE_ID --json`: one message with its events."""
        import json

        return json.loads(self.cli("trace", "--detail", queue_id, "--json").stdout)

    def trace(self, *args: str) -> list[dict[str, Any]]:
        import json

        return json.loads(self.cli("trace", "--json", *args).stdout)

    def wait_trace(
        self, predicate: Callable[[list[dict[str, Any]]], bool], *args: str, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []

        def check() -> bool:
            nonlocal rows
            rows = self.trace(*args)
            return predicate(rows)

        try:
            wait_for(check, timeout, interval=0.2, what="trace rows")
        except AssertionError:
            raise AssertionError(f"trace never matched; last rows: {rows}") from None
        return rows
