"""The engine both front doors call: attribution, the policy chain, counters, spool and trace.

The pipeline around the pure rules lives here: it gathers what the rules read (the tenant's
snapshot, counter values), runs a stage of the chain, and then does the side effects — counters
charged, trace rows written, the message spooled and handed to delivery.
"""

from __future__ import annotations

import asyncio
import email.header
import email.parser
import email.policy
import ipaddress
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any

from outguard import codes, metrics
from outguard.config import Settings
from outguard.counters import Counters, Window
from outguard.policy import Chain, Context, Decision, Stage, StageResult
from outguard.queue.delivery import DeliveryQueue
from outguard.queue.envelope import Envelope, Recipient, new_queue_id, pid_node
from outguard.queue.spool import Spool
from outguard.store.snapshot import Snapshot, TenantConfig
from outguard.trace.writer import TraceWriter
from outguard.util import utcnow

log = logging.getLogger("outguard.engine")

UNREGISTERED = Window("unregistered", 86400, 600)

_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


@dataclass(frozen=True)
class Attribution:
    tenant: TenantConfig
    via: str  # certificate | auth | ip
    connector: str | None = None
    cert_domain: str | None = None


@dataclass
class Client:
    """What the engine knows about one SMTP connection."""

    ip: str
    helo: str = ""
    tls: str | None = None  # TLS version once STARTTLS completed
    cert_names: list[str] = field(default_factory=list)
    auth_user: str | None = None


@dataclass
class Transaction:
    """One MAIL transaction as the engine sees it."""

    queue_id: str
    received: datetime
    client: Client
    sender: str
    ctx: Context
    attribution: Attribution | None
    hits: list[dict[str, Any]] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (recipient, code, reply)
    mail_params: Any = None
    rcpt_params: dict[str, Any] = field(default_factory=dict)
    done: bool = False


def _plain_ip(ip: str) -> str:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return str(addr.ipv4_mapped)
    return str(addr)


class Engine:
    def __init__(
        self,
        settings: Settings,
        snapshot: Snapshot,
        chain: Chain,
        counters: Counters,
        spool: Spool,
        delivery: DeliveryQueue,
        trace: TraceWriter,
        hostname: str,
    ) -> None:
        self.settings, self.snapshot, self.chain, self.counters = settings, snapshot, chain, counters
        self.spool, self.delivery, self.trace, self.hostname = spool, delivery, trace, hostname
        self.node = pid_node()

    # Attribution -------------------------------------------------------------------------------

    def attribute(self, client: Client) -> Attribution | None:
        """Certificate connector, then SMTP AUTH mailbox, then IP connector (ARCHITECTURE.md)."""
        snap, now = self.snapshot, time.time()
        if client.cert_names and (hit := snap.tenant_for_certificate(client.cert_names)):
            tenant, connector, cert_domain = hit
            return Attribution(tenant, "certificate", connector, cert_domain)
        if client.auth_user and (mb := snap.mailbox(client.auth_user)):
            return Attribution(mb[0], "auth")
        ip = _plain_ip(client.ip)
        try:
            as_int = int(ipaddress.IPv4Address(ip))
        except ValueError:
            return None  # IP connectors are IPv4 only
        if hit2 := snap.tenant_for_ip(as_int, now):
            return Attribution(hit2[0], "ip", hit2[1])
        return None

    def limits(self, tenant: TenantConfig | None) -> dict[str, Any]:
        """Global policy settings with the tenant's overrides on top."""
        base = {"unregistered_allowance": self.settings.policy.unregistered_allowance}
        if tenant is not None:
            base.update({k: v for k, v in tenant.limits.items() if k in base})
        return base

    # Stages ------------------------------------------------------------------------------------

    async def mail(self, client: Client, sender: str) -> tuple[Transaction, Decision | None]:
        attribution = self.attribute(client)
        tenant = attribution.tenant if attribution else None
        now = time.time()
        ctx = Context(
            now=now,
            today=datetime.now(UTC).date(),
            client_ip=_plain_ip(client.ip),
            tenant=tenant,
            via=attribution.via if attribution else "",
            connector=attribution.connector if attribution else None,
            cert_domain=attribution.cert_domain if attribution else None,
            auth_user=client.auth_user,
            sender=sender,
            settings=self.limits(tenant),
        )
        if tenant is not None and ctx.unregistered_sender:
            [ctx.counts["unregistered"]] = await self.counters.get([(UNREGISTERED, f"t:{tenant.id}")], now)
        txn = Transaction(new_queue_id(), utcnow(), client, sender, ctx, attribution)
        result = self.chain.run(Stage.MAIL, ctx)
        self._note(txn, result)
        if result.decision is not None:
            self.refuse(txn, Stage.MAIL, result.decision)
        return txn, result.decision

    def rcpt(self, txn: Transaction, recipient: str) -> Decision | None:
        txn.ctx.recipient = recipient
        result = self.chain.run(Stage.RCPT, txn.ctx)
        txn.ctx.recipient = None
        self._note(txn, result)
        if result.decision is not None:
            txn.refused.append((recipient, result.decision.code.enhanced, result.decision.reply))
            return result.decision
        txn.ctx.recipients.append(recipient)
        return None

    def data_command(self, txn: Transaction) -> Decision | None:
        result = self.chain.run(Stage.DATA, txn.ctx)
        self._note(txn, result)
        if result.decision is not None:
            self.refuse(txn, Stage.DATA, result.decision)
        return result.decision

    @staticmethod
    def _note(txn: Transaction, result: StageResult) -> None:
        txn.hits += result.hits
        txn.misses += result.misses

    # Outcomes ----------------------------------------------------------------------------------

    def _trace_message(
        self, txn: Transaction, recipients: list[tuple[str, str, str | None, str | None]], **fields: Any
    ) -> None:
        a, c = txn.attribution, txn.client
        self.trace.message(
            queue_id=txn.queue_id,
            received=txn.received,
            recipients=recipients,
            tenant_id=a.tenant.id if a else None,
            tenant_name=a.tenant.name if a else None,
            sender=txn.sender,
            client_ip=txn.ctx.client_ip,
            helo=c.helo[:255],
            via=a.via if a else "",
            connector=a.connector if a else None,
            auth_user=c.auth_user,
            tls=c.tls,
            unregistered=txn.ctx.unregistered_sender,
            rule_hits=txn.hits,
            rule_misses=txn.misses,
            node=self.node,
            **fields,
        )
        txn.done = True

    def refuse(self, txn: Transaction, stage: Stage, decision: Decision) -> None:
        """Trace a transaction refused during the dialogue (nothing is queued)."""
        rcpts = [(r, "Failed", code, reply) for r, code, reply in txn.refused]
        rcpts += [(r, "Failed", decision.code.enhanced, decision.reply) for r in txn.ctx.recipients]
        self._trace_message(
            txn, rcpts, refused_stage=stage.value, code=decision.code.enhanced, detail=decision.reply
        )
        metrics.observe_message("refused", decision.code.enhanced)
        self._events(txn, kind="refused")

    def abandon(self, txn: Transaction) -> None:
        """The client gave up (RSET, QUIT, disconnect) after some recipients were refused: trace those."""
        if txn.done or not txn.refused:
            return
        code, reply = txn.refused[0][1], txn.refused[0][2]
        self._trace_message(
            txn,
            [(r, "Failed", c, d) for r, c, d in txn.refused],
            refused_stage=Stage.RCPT.value,
            code=code,
            detail=reply,
        )
        self._events(txn, kind="refused")

    def _events(self, txn: Transaction, kind: str) -> None:
        tid = txn.attribution.tenant.id if txn.attribution else None
        self.trace.event(
            txn.queue_id,
            tid,
            "received",
            None,
            at=txn.received,
            client_ip=txn.ctx.client_ip,
            via=txn.attribution.via if txn.attribution else "",
            tls=txn.client.tls,
            rules_passed=txn.misses,
        )
        for hit in txn.hits:
            self.trace.event(txn.queue_id, tid, "rule", None, **hit)
        if kind == "refused":
            return
        self.trace.event(txn.queue_id, tid, "queued", None, size=txn.ctx.facts.get("size"))

    def received_header(self, txn: Transaction) -> bytes:
        c = txn.client
        proto = "ESMTP"
        if c.tls:
            proto += "S"
        if c.auth_user:
            proto += "A"
        tls = f" (using {c.tls})" if c.tls else ""
        rcpts = txn.ctx.recipients
        for_clause = f"\r\n\tfor <{rcpts[0]}>" if len(rcpts) == 1 else ""
        value = (
            f"from {c.helo or 'unknown'} ([{txn.ctx.client_ip}]){tls}\r\n\tby {self.hostname} (Outguard) "
            f"with {proto} id {txn.queue_id}{for_clause}; {format_datetime(txn.received)}"
        )
        return f"Received: {value}\r\n".encode("utf-8", "surrogateescape")

    async def accept(self, txn: Transaction, content: bytes) -> str:
        """Make the message durable, charge counters, trace it, hand it to delivery. Returns the reply."""
        tenant = txn.attribution.tenant if txn.attribution else None
        assert tenant is not None
        subject, message_id = _subject_and_id(content)
        received = self.received_header(txn)
        size = len(received) + len(content)
        txn.ctx.facts["size"] = size
        mp = txn.mail_params
        env = Envelope(
            queue_id=txn.queue_id,
            sender=txn.sender,
            arrival=txn.received.timestamp(),
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            message_id=message_id or f"<{txn.queue_id}@{self.hostname}>",
            subject=subject,
            size=size,
            client_ip=txn.ctx.client_ip,
            helo=txn.client.helo,
            ret=getattr(mp, "ret", None),
            envid=getattr(mp, "envid", None),
            smtputf8=getattr(mp, "smtputf8", False),
            body=getattr(mp, "body", None),
            recipients=[
                Recipient(
                    r,
                    orcpt=getattr(txn.rcpt_params.get(r), "orcpt", None),
                    notify=getattr(txn.rcpt_params.get(r), "notify", None),
                )
                for r in txn.ctx.recipients
            ],
        )
        await asyncio.to_thread(self.spool.write, env, [received, content])  # durable before 250
        if txn.ctx.unregistered_sender:
            await self.counters.add([(UNREGISTERED, f"t:{tenant.id}", 1)], txn.ctx.now)
        rcpts: list[tuple[str, str, str | None, str | None]] = [
            (r, "Pending", None, None) for r in txn.ctx.recipients
        ]
        rcpts += [(r, "Failed", c, d) for r, c, d in txn.refused]
        self._trace_message(txn, rcpts, message_id=env.message_id[:255], subject=subject[:255], size=size)
        self._events(txn, kind="queued")
        self.delivery.submit(env, received + content)
        metrics.observe_message("accepted", "2.0.0")
        return f"250 2.0.0 Ok: queued as {txn.queue_id}"

    def trace_report(self, env: Envelope) -> None:
        """Trace a DSN the delivery queue generated (it is a message of the same tenant)."""
        self.trace.message(
            queue_id=env.queue_id,
            received=datetime.fromtimestamp(env.arrival, UTC),
            recipients=[(r.address, "Pending", None, None) for r in env.recipients],
            tenant_id=env.tenant_id,
            tenant_name=env.tenant_name,
            sender="",
            subject=env.subject[:255],
            size=env.size,
            via="ndr",
            node=self.node,
            message_id=env.message_id[:255],
        )
        self.trace.event(env.queue_id, env.tenant_id, "queued", None, report_for=env.extra.get("report_for"))


def _subject_and_id(content: bytes) -> tuple[str, str]:
    end = content.find(b"\r\n\r\n")
    head = content[: end + 2] if end >= 0 else content[:65536]
    try:
        msg = _HEADERS.parsebytes(head)
        raw_subject = msg.get("Subject") or ""
        subject = str(email.header.make_header(email.header.decode_header(str(raw_subject))))
        return " ".join(subject.split()), (msg.get("Message-ID") or "").strip()
    except Exception:
        return "", ""


def today_utc() -> date:
    return datetime.now(UTC).date()


__all__ = ["UNREGISTERED", "Attribution", "Client", "Engine", "Transaction", "codes"]
