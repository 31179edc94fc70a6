"""aiosmtpd hooks: turn SMTP events into engine calls and the engine's decisions into replies."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import logging
import time
from typing import Any

from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword, Session, TLSSetupException

from outguard.engine import Client, Engine, Transaction
from outguard.errors import InvalidValue
from outguard.services.mailboxes import hasher
from outguard.smtp.server import GatewaySMTP, RcptParams
from outguard.smtp.tls import certificate_names
from outguard.tabl import normalise_address

log = logging.getLogger("outguard.smtp")

AUTH_CACHE_SECONDS = 600
MAX_AUTH_FAILURES = 3


def _client(session: Session) -> Client:
    client = getattr(session, "og_client", None)
    if client is None:
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        client = session.og_client = Client(ip=peer)  # type: ignore[attr-defined]
    return client


class GatewayHandler:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Successful logins: sha256(address, password, stored hash) -> expiry. Argon2 is slow on
        # purpose; apps that log in for every message should not pay it every time.
        self._auth_ok: dict[bytes, float] = {}

    # Connection and greeting -------------------------------------------------------------------

    async def handle_EHLO(
        self, server: GatewaySMTP, session: Session, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        _client(session).helo = hostname
        session.host_name = hostname
        last = responses.pop()  # "250 HELP"
        extra = ["250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-DSN"]
        return [*responses, *extra, last]

    async def handle_HELO(self, server: GatewaySMTP, session: Session, envelope: Any, hostname: str) -> str:
        _client(session).helo = hostname
        session.host_name = hostname
        return f"250 {server.hostname}"

    def handle_STARTTLS(self, server: GatewaySMTP, session: Session, envelope: Any) -> bool:
        client = _client(session)
        ssl_object = session.ssl.get("ssl_object") if session.ssl else None
        if ssl_object is not None:
            client.tls = ssl_object.version()
            client.cert_names = certificate_names(ssl_object.getpeercert())
        return True

    # AUTH (after TLS only; aiosmtpd refuses it before) ------------------------------------------

    async def auth_PLAIN(self, server: GatewaySMTP, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await server.challenge_auth("", encode_to_b64=False)
        else:
            try:
                blob = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                blob = b""
        if blob is MISSING:
            return AuthResult(success=False, handled=True)
        try:
            _, login, password = blob.split(b"\x00", 2)
        except ValueError:
            return AuthResult(
                success=False, handled=False, message="501 5.5.2 Cannot decode AUTH PLAIN response"
            )
        return await self._login(server, login, password)

    async def auth_LOGIN(self, server: GatewaySMTP, args: list[str]) -> AuthResult:
        if len(args) > 1:
            try:
                login: Any = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                return AuthResult(
                    success=False, handled=False, message="501 5.5.2 Cannot decode AUTH LOGIN response"
                )
        else:
            login = await server.challenge_auth("Username:")
        if login is MISSING:
            return AuthResult(success=False, handled=True)
        password = await server.challenge_auth("Password:")
        if password is MISSING:
            return AuthResult(success=False, handled=True)
        return await self._login(server, login, password)

    async def _login(self, server: GatewaySMTP, login_b: bytes, password_b: bytes) -> AuthResult:
        session = server.session
        assert session is not None
        login, password = login_b.decode("utf-8", "replace"), password_b.decode("utf-8", "replace")
        try:
            address = normalise_address(login)
        except InvalidValue:
            address = login.lower()
        hit = self.engine.snapshot.mailbox(address)
        ok = False
        if hit is not None and hit[2]:
            stored = hit[1]
            key = hashlib.sha256(b"\0".join([address.encode(), password_b, stored.encode()])).digest()
            now = time.monotonic()
            if self._auth_ok.get(key, 0) > now:
                ok = True
            else:
                ok = await asyncio.to_thread(_verify, stored, password)
                if ok:
                    self._auth_ok[key] = now + AUTH_CACHE_SECONDS
                    if len(self._auth_ok) > 10_000:
                        self._auth_ok = {k: v for k, v in self._auth_ok.items() if v > now}
        if not ok:
            failures = getattr(session, "og_auth_failures", 0) + 1
            session.og_auth_failures = failures  # type: ignore[attr-defined]
            log.info("authentication failed for %r from %s", login, _client(session).ip)
            if failures >= MAX_AUTH_FAILURES:
                await server.push("421 4.7.0 Too many authentication failures")
                assert server.transport is not None
                server.transport.close()
                return AuthResult(success=False, handled=True)
            return AuthResult(
                success=False, handled=False, message="535 5.7.8 Authentication credentials invalid"
            )
        _client(session).auth_user = address
        return AuthResult(success=True, auth_data=LoginPassword(login_b, b""))

    # The transaction ---------------------------------------------------------------------------

    def _txn(self, envelope: Any) -> Transaction | None:
        return envelope.txn.state

    def abandon(self, envelope: Any) -> None:
        """The transaction ends without a message (RSET, new EHLO, QUIT, disconnect)."""
        txn = getattr(getattr(envelope, "txn", None), "state", None)
        if txn is not None:
            self.engine.abandon(txn)

    async def handle_MAIL(
        self, server: GatewaySMTP, session: Session, envelope: Any, address: str, options: list[str]
    ) -> Any:
        txn, decision = await self.engine.mail(_client(session), address)
        if decision is not None:
            return decision.reply
        txn.mail_params = envelope.txn.mail
        envelope.txn.state = txn
        envelope.mail_from = address
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        server: GatewaySMTP,
        session: Session,
        envelope: Any,
        address: str,
        options: list[str],
        params: RcptParams,
    ) -> Any:
        txn = self._txn(envelope)
        assert txn is not None
        if len(txn.ctx.recipients) >= self.engine.settings.smtp.max_recipients:
            return "452 4.5.3 Error: too many recipients"
        local, _, domain = address.rpartition("@")
        if not local or not _valid_destination(domain):
            return f"550 5.1.2 Bad destination domain in <{address}>: not a public host name"
        if address in txn.ctx.recipients:
            return "250 2.1.5 Ok (duplicate recipient ignored)"
        decision = self.engine.rcpt(txn, address)
        if decision is not None:
            return decision.reply
        txn.rcpt_params[address] = params
        return MISSING

    async def handle_DATA_COMMAND(self, server: GatewaySMTP, session: Session, envelope: Any) -> Any:
        txn = self._txn(envelope)
        assert txn is not None
        decision = self.engine.data_command(txn)
        return decision.reply if decision is not None else MISSING

    async def handle_DATA(self, server: GatewaySMTP, session: Session, envelope: Any) -> str:
        txn = self._txn(envelope)
        assert txn is not None
        try:
            return await self.engine.accept(txn, envelope.content)
        except OSError:
            log.exception("could not spool message %s", txn.queue_id)
            return "451 4.3.0 Error: queue file write error, try again later"

    async def handle_exception(self, error: Exception) -> str:
        # A client whose TLS handshake fails is routine (it goes away); anything else is a bug.
        if isinstance(error, TLSSetupException):
            log.info("TLS handshake failed: %s", error.__cause__ or error)
        else:
            log.exception("SMTP session error")
        return "451 4.3.0 Error: internal error, try again later"

    async def handle_QUIT(self, server: GatewaySMTP, session: Session, envelope: Any) -> Any:
        self.abandon(envelope)
        return "221 2.0.0 Bye"


def _verify(stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except Exception:
        return False


def _valid_destination(domain: str) -> bool:
    """Relay only to public host names: no address literals, no dotless local names (relay tricks)."""
    if not domain or domain.startswith("[") or "." not in domain or domain.endswith("."):
        return False
    return all(label and len(label) <= 63 and not label.startswith("-") for label in domain.split("."))
