"""Delivery workers: relay spooled mail to its next hop, retry on a schedule, bounce what fails.

One `DeliveryQueue` per gateway process owns that process's spool. Recipients are grouped per
destination (one transaction per MX domain, or one for the smart host), connections to a next
hop are reused, STARTTLS is used when offered. Temporary failures are retried on the
`[delivery] retry_schedule` until `[delivery] expiry`; permanent failures and expiry produce an
RFC 3464 NDR to the envelope sender (never for a null sender), with DSN parameters honoured.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import heapq
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosmtplib

from outguard import metrics
from outguard.config import Settings
from outguard.ndr.build import ReportedRecipient, build_report
from outguard.queue.envelope import Envelope, Recipient, new_queue_id
from outguard.queue.routing import NextHop, RouteError, Router
from outguard.queue.spool import Spool
from outguard.trace.writer import TraceWriter

log = logging.getLogger("outguard.delivery")

_REPORT_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.default)
_ENHANCED = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})\s*")
# Keep at most this many message bodies in memory waiting for a worker; beyond it, the queue keeps
# only envelopes and re-reads bodies from the spool (a bounded backlog).
MEMORY_BUDGET = 64 * 1024 * 1024
IDLE_CONNECTION_SECONDS = 30.0


@dataclass(frozen=True)
class Result:
    """The outcome of one attempt for one recipient."""

    kind: str  # delivered | deferred | failed
    status: str  # enhanced status
    reply: str  # the full reply or our own description
    remote: str | None = None  # the host that answered


def _from_reply(code: int, message: str, remote: str | None) -> Result:
    text = " ".join(message.split())
    m = _ENHANCED.match(text)
    klass = str(code)[0] if 200 <= code < 600 else "4"
    status = m.group(1) if m and m.group(1)[0] == klass else f"{klass}.0.0"
    kind = {"2": "delivered", "4": "deferred"}.get(klass, "failed")
    return Result(kind, status, f"{code} {text}".strip(), remote)


def _dsn_xtext(value: str) -> str:
    """RFC 3461 §4 xtext: '+', '=' and characters outside 33..126 as +HH."""
    return "".join(
        chr(b) if 33 <= b <= 126 and b not in b"+=" else f"+{b:02X}" for b in value.encode("utf-8")
    )


class ConnectionPool:
    """Idle SMTP client connections per next hop, reused across messages."""

    def __init__(self, settings: Settings, hostname: str) -> None:
        self.settings, self.hostname = settings, hostname
        self.idle: dict[tuple[str, int], list[tuple[aiosmtplib.SMTP, float]]] = defaultdict(list)

    async def get(self, hop: NextHop, *, fresh: bool = False) -> aiosmtplib.SMTP:
        """An idle connection to `hop` (marked `reused`), or a new one."""
        stack = self.idle[(hop.address, hop.port)]
        while stack and not fresh:
            client, _ = stack.pop()
            if client.is_connected:
                client.reused = True  # type: ignore[attr-defined]
                return client
        d = self.settings.delivery
        client = aiosmtplib.SMTP(
            hostname=hop.address,
            port=hop.port,
            local_hostname=self.hostname,
            timeout=d.command_timeout.total_seconds(),
            validate_certs=False,
            start_tls=None if d.tls == "opportunistic" else False,
        )
        await asyncio.wait_for(client.connect(), d.connect_timeout.total_seconds())
        return client

    def put(self, hop: NextHop, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self.idle[(hop.address, hop.port)].append((client, time.monotonic()))

    async def reap(self, everything: bool = False) -> None:
        now = time.monotonic()
        for key, stack in list(self.idle.items()):
            keep = []
            for client, since in stack:
                if everything or now - since > IDLE_CONNECTION_SECONDS:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(client.quit(), 5)
                    client.close()
                else:
                    keep.append((client, since))
            self.idle[key] = keep


class DeliveryQueue:
    def __init__(
        self,
        settings: Settings,
        spool: Spool,
        router: Router,
        trace: TraceWriter,
        hostname: str,
        on_ndr: Callable[[Envelope], None] | None = None,
    ) -> None:
        self.settings, self.spool, self.router, self.trace = settings, spool, router, trace
        self.hostname = hostname
        self.pool = ConnectionPool(settings, hostname)
        self.ready: asyncio.Queue[tuple[Envelope, bytes | None]] = asyncio.Queue()
        self.deferred: list[tuple[float, str]] = []  # heap of (next attempt, queue id)
        self.waiting: dict[str, Envelope] = {}  # deferred envelopes by queue id
        self.in_memory = 0
        self.active = 0
        self.on_ndr = on_ndr
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._stopping = False

    # Life cycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        recovered = await asyncio.to_thread(self.spool.recover)
        now = time.time()
        for env in recovered:
            if env.next_attempt <= now:
                self.ready.put_nowait((env, None))
            else:
                self._defer(env)
        if recovered:
            log.info("resumed %d queued messages from %s", len(recovered), self.spool.dir)
            self.trace.recovered([_trace_record(e) for e in recovered])
        self._tasks = [
            asyncio.create_task(self._worker(), name=f"delivery-{i}")
            for i in range(self.settings.delivery.workers)
        ]
        self._tasks.append(asyncio.create_task(self._timer(), name="delivery-timer"))

    async def stop(self, timeout: float = 30.0) -> None:
        """Finish the attempts in progress (up to `timeout`), leave the rest queued on disk."""
        self._stopping = True
        deadline = time.monotonic() + timeout
        while self.active and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pool.reap(everything=True)

    @property
    def depth(self) -> int:
        return self.ready.qsize() + len(self.waiting) + self.active

    def submit(self, env: Envelope, data: bytes) -> None:
        """A newly spooled message: deliver it as soon as a worker is free."""
        if self.in_memory + len(data) <= MEMORY_BUDGET:
            self.in_memory += len(data)
            self.ready.put_nowait((env, data))
        else:
            self.ready.put_nowait((env, None))

    # Scheduling --------------------------------------------------------------------------------

    def _defer(self, env: Envelope) -> None:
        self.waiting[env.queue_id] = env
        heapq.heappush(self.deferred, (env.next_attempt, env.queue_id))
        self._wake.set()

    async def _timer(self) -> None:
        while True:
            now = time.time()
            while self.deferred and self.deferred[0][0] <= now:
                _, qid = heapq.heappop(self.deferred)
                env = self.waiting.pop(qid, None)
                if env is not None:
                    self.ready.put_nowait((env, None))
            delay = min(self.deferred[0][0] - now, 5.0) if self.deferred else 5.0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(delay, 0.01))
            await self.pool.reap()

    async def _worker(self) -> None:
        while True:
            env, data = await self.ready.get()
            if data is not None:
                self.in_memory -= len(data)
            self.active += 1
            try:
                if data is None:
                    _, data = await asyncio.to_thread(self.spool.read, env.queue_id)
                assert data is not None
                await self.attempt(env, data)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery of %s failed unexpectedly; will retry", env.queue_id)
                env.next_attempt = time.time() + 60
                self._defer(env)
            finally:
                self.active -= 1

    # One attempt -------------------------------------------------------------------------------

    async def attempt(self, env: Envelope, data: bytes) -> None:
        now = time.time()
        results: dict[str, Result] = {}
        if now >= env.arrival + self.settings.delivery.expiry.total_seconds():
            for r in env.pending:
                last = f" (last error: {r.detail})" if r.detail else ""
                results[r.address] = Result(
                    "failed",
                    "4.4.7",
                    f"Message expired: delivery was retried until the queue lifetime ran out{last}",
                    r.remote_mta,
                )
        else:
            groups: dict[str, list[Recipient]] = defaultdict(list)
            for r in env.pending:
                groups[self.router.key(r.address.rpartition("@")[2].lower())].append(r)
            for key, rcpts in groups.items():
                results.update(await self._deliver_group(env, data, key, rcpts))
        await self._settle(env, data, results, now)

    async def _deliver_group(
        self, env: Envelope, data: bytes, key: str, rcpts: list[Recipient]
    ) -> dict[str, Result]:
        override = None
        if env.next_hop:
            host, _, port = env.next_hop.rpartition(":")
            override = (host, int(port))
        try:
            hops = await self.router.route(key, override)
        except RouteError as e:
            kind = "failed" if e.permanent else "deferred"
            return {r.address: Result(kind, e.status, e.text) for r in rcpts}
        last = Result("deferred", "4.4.1", "no next hop could be reached")
        for hop in hops:
            for fresh in (False, True):
                try:
                    client = await self.pool.get(hop, fresh=fresh)
                except (OSError, TimeoutError, aiosmtplib.SMTPException) as e:
                    last = Result(
                        "deferred",
                        "4.4.1",
                        f"connect to {hop.name}[{hop.address}]:{hop.port}: {e or type(e).__name__}",
                        None,
                    )
                    break
                try:
                    results = await self._transaction(client, hop, env, data, rcpts)
                except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as e:
                    client.close()
                    last = Result(
                        "deferred", "4.4.2", f"lost connection with {hop.name}[{hop.address}]: {e}", hop.name
                    )
                    if getattr(client, "reused", False):
                        continue  # an idle connection the server had dropped: try once on a new one
                    break
                self.pool.put(hop, client)
                return results
        return {r.address: last for r in rcpts}

    async def _transaction(
        self, client: aiosmtplib.SMTP, hop: NextHop, env: Envelope, data: bytes, rcpts: list[Recipient]
    ) -> dict[str, Result]:
        if env.smtputf8 and not client.supports_extension("smtputf8"):
            # RFC 6531 §3.5: a message that needs SMTPUTF8 cannot be relayed to a server without it.
            reply = f"{hop.name} does not support SMTPUTF8, which this message requires"
            return {r.address: Result("failed", "5.6.7", reply, hop.name) for r in rcpts}
        dsn = client.supports_extension("dsn")
        mail_opts = []
        if client.supports_extension("size"):
            mail_opts.append(f"SIZE={len(data)}")
        if env.body and client.supports_extension("8bitmime"):
            mail_opts.append(f"BODY={env.body}")
        if env.smtputf8 and client.supports_extension("smtputf8"):
            mail_opts.append("SMTPUTF8")
        if dsn and env.ret:
            mail_opts.append(f"RET={env.ret}")
        if dsn and env.envid:
            mail_opts.append(f"ENVID={_dsn_xtext(env.envid)}")
        encoding = "utf-8" if env.smtputf8 else "ascii"
        try:
            await client.mail(env.sender, options=mail_opts, encoding=encoding)
        except aiosmtplib.SMTPResponseException as e:
            await self._reset(client)
            return {r.address: _from_reply(e.code, e.message, hop.name) for r in rcpts}
        results: dict[str, Result] = {}
        accepted: list[Recipient] = []
        for r in rcpts:
            opts = []
            if dsn and r.notify is not None:  # [] is NOTIFY=NEVER, which must travel on too
                opts.append("NOTIFY=" + (",".join(r.notify) or "NEVER"))
            if dsn and r.orcpt:
                atype, _, addr = r.orcpt.partition(";")
                opts.append(f"ORCPT={atype};{_dsn_xtext(addr)}")
            try:
                await client.rcpt(r.address, options=opts, encoding=encoding)
                accepted.append(r)
            except aiosmtplib.SMTPResponseException as e:
                results[r.address] = _from_reply(e.code, e.message, hop.name)
        if not accepted:
            await self._reset(client)
            return results
        try:
            response = await client.data(data)
            outcome = _from_reply(response.code, response.message, hop.name)
        except aiosmtplib.SMTPResponseException as e:
            outcome = _from_reply(e.code, e.message, hop.name)
            await self._reset(client)
        if outcome.kind == "delivered" and not dsn:
            # The next hop cannot carry NOTIFY=SUCCESS further: report "relayed" ourselves (RFC 3461 §6.2.6).
            for r in accepted:
                results[r.address] = Result(
                    "relayed" if r.wants("SUCCESS") else "delivered",
                    outcome.status,
                    outcome.reply,
                    outcome.remote,
                )
        else:
            results.update({r.address: outcome for r in accepted})
        return results

    @staticmethod
    async def _reset(client: aiosmtplib.SMTP) -> None:
        with contextlib.suppress(Exception):
            await client.rset()

    # Bookkeeping after an attempt ----------------------------------------------------------------

    async def _settle(self, env: Envelope, data: bytes, results: dict[str, Result], started: float) -> None:
        now = time.time()
        failed: list[Recipient] = []
        relayed: list[Recipient] = []
        deferred = False
        for r in env.recipients:
            res = results.get(r.address)
            if res is None:
                continue
            r.attempts += 1
            r.last_attempt = now
            r.code, r.detail, r.remote_mta = res.status, res.reply, res.remote
            metrics.observe_delivery(res.kind, now - started, now - env.arrival)
            if res.kind in ("delivered", "relayed"):
                r.status = "delivered"
                if res.kind == "relayed":
                    relayed.append(r)
                # Spam relayed through the high-risk pool stays FilteredAsSpam in the trace.
                trace_status = "FilteredAsSpam" if env.extra.get("spam") else "Delivered"
            elif res.kind == "failed":
                r.status = "failed"
                failed.append(r)
                trace_status = "Failed"
            else:
                deferred = True
                trace_status = "Pending"
            self.trace.event(
                env.queue_id,
                env.tenant_id,
                res.kind if res.kind != "relayed" else "delivered",
                r.address,
                status=res.status,
                reply=res.reply,
                remote=res.remote,
                attempt=r.attempts,
            )
            self.trace.recipient(
                env.queue_id,
                r.address,
                status=trace_status,
                code=res.status,
                detail=res.reply,
                remote_mta=res.remote,
                attempts=r.attempts,
            )

        reports: list[tuple[str, list[Recipient]]] = []
        if failed and env.sender:
            reports.append(("failed", [r for r in failed if r.wants("FAILURE")]))
        if relayed and env.sender:
            reports.append(("relayed", relayed))
        if deferred and env.sender and not env.delay_notified:
            if env.first_deferred is None:
                env.first_deferred = started
            notice = self.settings.delivery.delay_notice
            if notice is not None and now - env.first_deferred >= notice.total_seconds():
                env.delay_notified = True
                reports.append(("delayed", [r for r in env.pending if r.wants("DELAY")]))
        for action, rcpts in reports:
            if rcpts:
                await self._send_report(env, data, action, rcpts)

        if not env.pending:
            await asyncio.to_thread(self.spool.remove, env.queue_id)
            return
        if env.first_deferred is None:
            env.first_deferred = started
        schedule = self.settings.delivery.retry_schedule
        attempts = max(r.attempts for r in env.pending)
        delay = schedule[min(attempts, len(schedule)) - 1].total_seconds() if schedule else 300.0
        expiry = env.arrival + self.settings.delivery.expiry.total_seconds()
        env.next_attempt = min(now + delay, max(expiry, now))
        await asyncio.to_thread(self.spool.save_state, env)
        self.trace.event(env.queue_id, env.tenant_id, "deferred", next_attempt=env.next_attempt)
        if not self._stopping:
            self._defer(env)

    async def _send_report(self, env: Envelope, data: bytes, action: str, rcpts: list[Recipient]) -> None:
        """Queue a DSN (NDR, delay notice or relayed notice) to the envelope sender."""
        expiry = datetime.fromtimestamp(env.arrival + self.settings.delivery.expiry.total_seconds(), UTC)
        reported = [
            ReportedRecipient(
                recipient=r.address,
                action=action,
                status=r.code or "5.0.0",
                diagnostic=r.detail or "",
                original_recipient=r.orcpt,
                remote_mta=r.remote_mta,
                last_attempt=datetime.fromtimestamp(r.last_attempt, UTC) if r.last_attempt else None,
                will_retry_until=expiry if action == "delayed" else None,
            )
            for r in rcpts
        ]
        report = build_report(
            original=data,
            sender=env.sender,
            recipients=reported,
            reporting_mta=self.hostname,
            arrival=datetime.fromtimestamp(env.arrival, UTC),
            postmaster=f"postmaster@{self.hostname}",
            ret=env.ret,
            envid=env.envid,
            received_from_mta=env.helo or None,
            queue_id=env.queue_id,
        )
        head = _REPORT_HEADERS.parsebytes(report.partition(b"\r\n\r\n")[0])
        ndr = Envelope(
            queue_id=new_queue_id(),
            sender="",
            recipients=[Recipient(env.sender)],
            arrival=time.time(),
            tenant_id=env.tenant_id,
            tenant_name=env.tenant_name,
            message_id=str(head["Message-ID"] or ""),
            subject=str(head["Subject"] or ""),  # as the report says it, e.g. "Undeliverable: …"
            size=len(report),
            helo=self.hostname,
            extra={"report_for": env.queue_id, "action": action},
        )
        await asyncio.to_thread(self.spool.write, ndr, [report])
        self.trace.event(
            env.queue_id,
            env.tenant_id,
            "ndr",
            None,
            action=action,
            report_queue_id=ndr.queue_id,
            recipients=[r.address for r in rcpts],
        )
        if self.on_ndr:
            self.on_ndr(ndr)
        self.submit(ndr, report)


def _trace_record(env: Envelope) -> dict[str, Any]:
    """What the trace knows of a message, rebuilt from its spooled envelope."""
    status = {"delivered": "Delivered", "failed": "Failed"}
    return {
        "queue_id": env.queue_id,
        "received": datetime.fromtimestamp(env.arrival, UTC),
        "tenant_id": env.tenant_id,
        "tenant_name": env.tenant_name,
        "sender": env.sender,
        "subject": env.subject[:255],
        "message_id": env.message_id[:255],
        "size": env.size,
        "client_ip": env.client_ip,
        "helo": env.helo[:255],
        "via": "ndr" if env.extra.get("report_for") else "",
        "recipients": [
            (r.address, status.get(r.status, "Pending"), r.code, r.detail) for r in env.recipients
        ],
    }
