"""The SMTP protocol: aiosmtpd's state machine, extended where a relay needs more.

What this adds to aiosmtpd's `SMTP`:
- enhanced status codes (RFC 2034/3463) on every reply, added by `push` where a reply lacks one;
- DSN parameters (RFC 3461: RET, ENVID on MAIL; NOTIFY, ORCPT on RCPT), PIPELINING and
  ENHANCEDSTATUSCODES in the EHLO reply;
- a DATA reader that takes the body in chunks and only ever ends it at <CRLF>.<CRLF> (no
  per-line Python work; bare LF or CR sequences never end DATA, so SMTP smuggling cannot work);
- a policy hook at the DATA command itself (before 354), where all recipients are known;
- a limit on concurrent connections (421 4.7.0 beyond it).
The protocol knows nothing of tenants: it asks the handler and answers what it says.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, Envelope, _AuthMechAttr, login_always_fail, syntax

from outguard import codes

log = logging.getLogger("outguard.smtp")

_HAS_ENHANCED = re.compile(r"^[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}(\s|$)")
# Default enhanced codes for replies that come without one (mostly aiosmtpd's own syntax errors).
_DEFAULT_ENHANCED = {
    "221": "2.0.0",
    "250": "2.0.0",
    "235": "2.7.0",
    "252": "2.5.0",
    "421": "4.7.0",
    "450": "4.2.0",
    "451": "4.3.0",
    "452": "4.3.1",
    "454": "4.7.0",
    "500": "5.5.2",
    "501": "5.5.4",
    "502": "5.5.1",
    "503": "5.5.1",
    "504": "5.5.4",
    "530": "5.7.0",
    "534": "5.7.9",
    "535": "5.7.8",
    "538": "5.7.11",
    "550": "5.0.0",
    "552": "5.3.4",
    "553": "5.1.3",
    "554": "5.0.0",
    "555": "5.5.4",
}
_XTEXT = re.compile(r"\+([0-9A-F]{2})")
TERMINATOR = b"\r\n.\r\n"
CHUNK = 256 * 1024


_ADDRESS = re.compile(r"^\s*<([^<>()\[\]\\,;:@\s\"]+@[A-Za-z0-9.\-]+)>(.*)$")


def _introspect(
    cls: type, handler: Any
) -> tuple[Any, dict[str, tuple[bool, str]], dict[str, Any], tuple[str, ...]]:
    """Once per handler: AUTH mechanisms (the handler's override the built-in ones), hooks, commands."""
    auth: dict[str, tuple[bool, str]] = {}
    for owner, builtin in ((cls, True), (handler, False)):
        for attr in dir(owner):
            if attr.startswith("auth_"):
                method = getattr(owner, attr)
                name = getattr(
                    method, "__auth_mechanism_name__", attr.replace("auth_", "").replace("__", "-")
                )
                auth[name] = (builtin, attr)
    hooks = {m.replace("handle_", ""): getattr(handler, m) for m in dir(handler) if m.startswith("handle_")}
    commands = tuple(m.replace("smtp_", "") for m in dir(cls) if m.startswith("smtp_"))
    return handler, auth, hooks, commands


def xtext_decode(value: str) -> str:
    """RFC 3461 §4 xtext."""
    return _XTEXT.sub(lambda m: chr(int(m.group(1), 16)), value)


@dataclass
class RcptParams:
    notify: list[str] | None = None
    orcpt: str | None = None


@dataclass
class MailParams:
    size: int | None = None
    body: str | None = None
    smtputf8: bool = False
    ret: str | None = None
    envid: str | None = None


@dataclass
class Transaction:
    """Per-transaction state the handler keeps next to aiosmtpd's Envelope."""

    mail: MailParams = field(default_factory=MailParams)
    rcpt_params: dict[str, RcptParams] = field(default_factory=dict)
    state: Any = None  # the handler's own transaction object


class GatewaySMTP(SMTP):
    """One SMTP connection. `active` counts connections across the listener for the limit."""

    active = 0
    max_connections = 200

    # What aiosmtpd's __init__ finds by introspection on every connection (inspect.getmembers and
    # dir() over the protocol and the handler), computed once per class and handler instead.
    _introspected: tuple[Any, dict[str, tuple[bool, str]], dict[str, Any], tuple[str, ...]] | None = None

    def __init__(
        self,
        handler: Any,
        *,
        hostname: str,
        ident: str,
        data_size_limit: int,
        tls_context: Any,
        timeout: float,
        auth_require_tls: bool,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        # The attributes aiosmtpd 1.4's SMTP.__init__ sets, without its per-connection introspection.
        self.__ident__ = ident
        self.loop = loop
        asyncio.StreamReaderProtocol.__init__(
            self,
            asyncio.StreamReader(loop=loop, limit=self.line_length_limit),
            client_connected_cb=self._cb_client_connected,
            loop=loop,
        )
        self.event_handler = handler
        self.data_size_limit = data_size_limit
        self.enable_SMTPUTF8 = True
        self._decode_data = False
        self.command_size_limits = collections.defaultdict(lambda: SMTP.command_size_limit)
        self.hostname = hostname
        self.tls_context = tls_context
        self.require_starttls = False
        self._timeout_duration = timeout
        self._timeout_handle = None
        self._tls_handshake_okay = True
        self._tls_protocol = None
        self._original_transport = None
        self.session = None
        self.envelope = None
        self.transport = None
        self._handler_coroutine = None
        self._auth_require_tls = auth_require_tls
        self._proxy_timeout = None
        self._authenticator = None
        self._auth_callback = login_always_fail
        self._auth_required = False
        self._enforce_call_limit = False
        self._ehlo_hook_ver = "new"
        cached = GatewaySMTP._introspected
        if cached is None or cached[0] is not handler:
            cached = GatewaySMTP._introspected = _introspect(type(self), handler)
        _, auth, hooks, smtp_names = cached
        self._auth_methods = {
            mech: _AuthMechAttr(getattr(self if builtin else handler, attr), builtin)
            for mech, (builtin, attr) in auth.items()
        }
        self._handle_hooks = hooks
        self._smtp_methods = {name: getattr(self, "smtp_" + name) for name in smtp_names}
        self._over_limit = False
        self._counted = False

    # Connections --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            GatewaySMTP.active += 1
            self._counted = True
            self._over_limit = GatewaySMTP.active > GatewaySMTP.max_connections

    def connection_lost(self, error: Exception | None) -> None:
        if self._counted:
            GatewaySMTP.active -= 1
            self._counted = False
        if self.envelope is not None and hasattr(self.event_handler, "abandon"):
            self.event_handler.abandon(self.envelope)
        super().connection_lost(error)

    async def _handle_client(self) -> None:
        if self._over_limit:
            await self.push(codes.TOO_MANY_CONNECTIONS.reply_line())
            assert self.transport is not None
            self.transport.close()
            return
        await super()._handle_client()

    def _set_post_data_state(self) -> None:
        # Every path that drops a transaction passes here (RSET, EHLO, STARTTLS, after DATA):
        # let the handler trace refusals of a transaction that ends without a message.
        if self.envelope is not None and hasattr(self.event_handler, "abandon"):
            self.event_handler.abandon(self.envelope)
        super()._set_post_data_state()

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # The common `<local@domain>` without quoting is parsed here; anything else (quoted local
        # parts, source routes, …) goes through aiosmtpd's full RFC 5322 parser.
        m = _ADDRESS.match(arg)
        if m:
            return m.group(1), m.group(2)
        return super()._getaddr(arg)

    def _create_envelope(self) -> Envelope:
        env = Envelope()
        env.txn = Transaction()  # type: ignore[attr-defined]
        return env

    # Replies ------------------------------------------------------------------------------------

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = self._with_enhanced(status)
        await super().push(status)

    def _with_enhanced(self, status: str) -> str:
        code = status[:3]
        if (
            len(status) < 4
            or status[3] not in " -"
            or _HAS_ENHANCED.match(status)
            or code in ("220", "354", "334")
            or self._in_ehlo
        ):
            return status
        enhanced = _DEFAULT_ENHANCED.get(code, f"{code[0]}.0.0")
        text = status[4:]
        if text.startswith("Error: "):
            text = text[7:]
        return f"{code}{status[3]}{enhanced} {text}"

    _in_ehlo = False

    async def smtp_EHLO(self, hostname: str) -> None:
        # RFC 2034 §3: no enhanced codes in the reply to EHLO (nor HELO).
        self._in_ehlo = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._in_ehlo = False

    async def smtp_HELO(self, hostname: str) -> None:
        self._in_ehlo = True
        try:
            await super().smtp_HELO(hostname)
        finally:
            self._in_ehlo = False

    # MAIL and RCPT with DSN parameters ---------------------------------------------------------

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("MAIL"):
            return
        assert self.session is not None and self.envelope is not None
        syntaxerr = "501 5.5.4 Syntax: MAIL FROM:<address> [SP <mail-parameters>]"
        arg = self._strip_command_keyword("FROM:", arg or "")
        if arg is None:
            return await self.push(syntaxerr)
        if self.envelope.mail_from is not None:
            return await self.push("503 5.5.1 Error: nested MAIL command")
        address: str | None
        rest: str | None
        if arg.strip().startswith("<>"):
            address, rest = "", arg.strip()[2:]  # the null sender (RFC 5321 §4.5.5)
        else:
            address, rest = self._getaddr(arg)
            if address is None:
                return await self.push("553 5.1.7 Error: malformed sender address")
            if not address:
                return await self.push(syntaxerr)
        if rest and not self.session.extended_smtp:
            return await self.push(syntaxerr)
        params = MailParams()
        for raw in (rest or "").split():
            key, eq, value = raw.partition("=")
            key = key.upper()
            if key == "SIZE" and value.isdigit():
                params.size = int(value)
                if self.data_size_limit and params.size > self.data_size_limit:
                    return await self.push(codes.MESSAGE_TOO_BIG.reply_line())
            elif key == "BODY" and value.upper() in ("7BIT", "8BITMIME"):
                params.body = value.upper()
            elif key == "SMTPUTF8" and not eq and self.enable_SMTPUTF8:
                params.smtputf8 = True
            elif key == "RET" and value.upper() in ("FULL", "HDRS"):
                params.ret = value.upper()
            elif key == "ENVID" and value and len(value) <= 100:
                params.envid = xtext_decode(value)
            else:
                return await self.push(f"555 5.5.4 MAIL FROM parameter not recognized or invalid: {raw}")
        self.envelope.smtp_utf8 = params.smtputf8
        self.envelope.txn.mail = params  # type: ignore[attr-defined]
        status = await self._call_handler_hook("MAIL", address, (rest or "").split())
        if status is MISSING:
            self.envelope.mail_from = address
            status = "250 2.1.0 Ok"
        await self.push(status)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("RCPT"):
            return
        assert self.session is not None and self.envelope is not None
        if self.envelope.mail_from is None:
            return await self.push("503 5.5.1 Error: need MAIL command")
        syntaxerr = "501 5.5.4 Syntax: RCPT TO:<address> [SP <mail-parameters>]"
        arg = self._strip_command_keyword("TO:", arg or "")
        if arg is None:
            return await self.push(syntaxerr)
        address, rest = self._getaddr(arg)
        if address is None:
            return await self.push("553 5.1.3 Error: malformed recipient address")
        if not address:
            return await self.push(syntaxerr)
        params = RcptParams()
        for raw in (rest or "").split():
            key, _, value = raw.partition("=")
            key = key.upper()
            if key == "NOTIFY" and value:
                items = [v.upper() for v in value.split(",")]
                if not set(items) <= {"NEVER", "SUCCESS", "FAILURE", "DELAY"} or (
                    "NEVER" in items and len(items) > 1
                ):
                    return await self.push(f"501 5.5.4 Invalid NOTIFY parameter: {value}")
                params.notify = [] if items == ["NEVER"] else items
            elif key == "ORCPT" and ";" in value:
                atype, _, addr = value.partition(";")
                params.orcpt = f"{atype.lower()};{xtext_decode(addr)}"
            else:
                return await self.push(f"555 5.5.4 RCPT TO parameter not recognized or invalid: {raw}")
        status = await self._call_handler_hook("RCPT", address, (rest or "").split(), params)
        if status is MISSING:
            self.envelope.rcpt_tos.append(address)
            self.envelope.txn.rcpt_params[address] = params  # type: ignore[attr-defined]
            status = "250 2.1.5 Ok"
        await self.push(status)

    # DATA ---------------------------------------------------------------------------------------

    @syntax("DATA")
    async def smtp_DATA(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            return await self.push("503 5.5.1 Error: need RCPT command")
        if arg:
            return await self.push("501 5.5.4 Syntax: DATA")
        status = await self._call_handler_hook("DATA_COMMAND")
        if status is not MISSING:  # refused before any data is sent (e.g. 5.7.703)
            self._set_post_data_state()
            return await self.push(status)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        content, too_big = await self._read_data()
        if content is None:
            return  # connection lost
        if too_big:
            self._set_post_data_state()
            return await self.push(codes.MESSAGE_TOO_BIG.reply_line())
        self.envelope.original_content = self.envelope.content = content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 2.0.0 OK" if status is MISSING else status)

    async def _read_data(self) -> tuple[bytes | None, bool]:
        """Read the body up to <CRLF>.<CRLF> in large chunks; undo dot-stuffing (RFC 5321 §4.5.2).

        Only the exact five-octet sequence ends the data: `\\n.\\n`, `\\r.\\r\\n` and friends are
        content (they are normalised and dot-stuffed on the way out, never a second message).
        """
        reader = self._reader
        limit = self.data_size_limit or 0
        buf = bytearray(b"\r\n")  # the CRLF before DATA's first line, so ".\r\n" at once ends an empty body
        scan = 0
        total = 0
        too_big = False
        while True:
            end = buf.find(TERMINATOR, scan)
            if end >= 0:
                rest = bytes(buf[end + len(TERMINATOR) :])
                if rest:  # pipelined commands after the data: give them back to the command reader
                    reader._buffer[:0] = rest  # type: ignore[attr-defined]
                del buf[end + 2 :]
                break
            scan = max(len(buf) - len(TERMINATOR) + 1, 0)
            if limit and total > limit:
                too_big = True
                keep = bytes(buf[-(len(TERMINATOR) - 1) :])  # discard, but still find the end
                buf[:] = keep
                scan = 0
            try:
                chunk = await reader.read(CHUNK)
            except (ConnectionResetError, asyncio.CancelledError):
                raise
            if not chunk:
                return None, False
            total += len(chunk)
            buf += chunk
            self._reset_timeout()
        if too_big or (limit and len(buf) - 2 > limit):
            return b"", True
        body = bytes(buf[2:])
        if b"\r\n." in body:
            body = body.replace(b"\r\n.", b"\r\n")
        if body.startswith(b"."):
            body = body[1:]
        return body, False
