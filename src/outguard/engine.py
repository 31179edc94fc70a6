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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from outguard import codes, metrics
from outguard.abuse import AbuseActions, Windows, threshold_state
from outguard.config import Settings
from outguard.counters import Counters, CountersUnavailable, Window
from outguard.policy import Chain, Context, Decision, Stage, StageResult
from outguard.queue.delivery import DeliveryQueue
from outguard.queue.envelope import Envelope, Recipient, new_queue_id, pid_node
from outguard.queue.spool import Spool
from outguard.reputation import Reputation
from outguard.services.tenants import TENANT_LIMITS
from outguard.spam import Classifier, MessageInfo, Verdict
from outguard.store.snapshot import Snapshot, TenantConfig
from outguard.trace.writer import TraceWriter
from outguard.util import header_text, utcnow

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
    # Parsed once per connection: the address without an IPv4-mapped prefix, and as an integer
    # when it is IPv4 (IP connectors are IPv4 only).
    plain_ip: str = field(init=False)
    ipv4: int | None = field(init=False)

    def __post_init__(self) -> None:
        self.plain_ip = _plain_ip(self.ip)
        try:
            self.ipv4 = int(ipaddress.IPv4Address(self.plain_ip))
        except ValueError:
            self.ipv4 = None


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
        *,
        reputation: Reputation,
        classifier: Classifier | None,
        actions: AbuseActions,
    ) -> None:
        self.settings, self.snapshot, self.chain, self.counters = settings, snapshot, chain, counters
        self.spool, self.delivery, self.trace, self.hostname = spool, delivery, trace, hostname
        self.reputation, self.classifier, self.actions = reputation, classifier, actions
        self.windows = Windows.from_settings(settings)
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
        if client.ipv4 is not None and (hit2 := snap.tenant_for_ip(client.ipv4, now)):
            return Attribution(hit2[0], "ip", hit2[1])
        return None

    def limits(self, tenant: TenantConfig | None) -> dict[str, Any]:
        """Global settings of the protections with the tenant's overrides on top (published to tenants)."""
        s = self.settings
        base: dict[str, Any] = {
            "unregistered_allowance": s.policy.unregistered_allowance,
            "spam_min_messages": s.abuse.spam_min_messages,
            "spam_ratio": s.abuse.spam_ratio,
            "external_per_hour": s.restricted.external_per_hour,
            "internal_per_hour": s.restricted.internal_per_hour,
            "per_day": s.restricted.per_day,
            "restricted_action": s.restricted.action,
            "spam_action": s.abuse.spam_action,
        }
        if tenant is not None:
            base.update({k: v for k, v in tenant.limits.items() if k in TENANT_LIMITS})
        return base

    async def live_counts(self, tenant_name: str) -> dict[str, int] | None:
        """A tenant's counters as the thresholds see them (for its dashboard); None if unknown."""
        tenant = self.snapshot.by_name.get(tenant_name)
        if tenant is None:
            return None
        w, key = self.windows, f"t:{tenant.id}"
        try:
            messages, spam_bulk, unregistered = await self.counters.get(
                [(w.tenant_messages, key), (w.tenant_spam, key), (UNREGISTERED, key)]
            )
        except CountersUnavailable:
            return None
        return {"messages": messages, "spam_bulk": spam_bulk, "unregistered": unregistered}

    async def _counts(self, items: dict[str, tuple[Window, str]], now: float) -> dict[str, int]:
        """Fetch several counters in one round trip; an unavailable store counts as zero (fail open)."""
        if not items:
            return {}
        try:
            values = await self.counters.get(list(items.values()), now)
        except CountersUnavailable:
            log.error("counter store unavailable: limits are not enforced for this message")
            return {}
        return dict(zip(items, values, strict=True))

    # Stages ------------------------------------------------------------------------------------

    async def mail(self, client: Client, sender: str) -> tuple[Transaction, Decision | None]:
        attribution = self.attribute(client)
        tenant = attribution.tenant if attribution else None
        now = time.time()
        ctx = Context(
            now=now,
            today=datetime.now(UTC).date(),
            client_ip=client.plain_ip,
            tenant=tenant,
            via=attribution.via if attribution else "",
            connector=attribution.connector if attribution else None,
            cert_domain=attribution.cert_domain if attribution else None,
            auth_user=client.auth_user,
            sender=sender,
            settings=self.limits(tenant),
        )
        wanted: dict[str, tuple[Window, str]] = {}
        w = self.windows
        if tenant is not None:
            if ctx.unregistered_sender:
                wanted["unregistered"] = (UNREGISTERED, f"t:{tenant.id}")
            if ctx.sender_key:
                key = f"s:{tenant.id}:{ctx.sender_key}"
                wanted.update(
                    {
                        "external_per_hour": (w.sender_external, key),
                        "internal_per_hour": (w.sender_internal, key),
                        "per_day": (w.sender_day, key),
                    }
                )
            if not tenant.licensed:
                ip_key = f"ip:{ctx.client_ip}"
                wanted.update(
                    {
                        "ip_week": (w.ip_week, ip_key),
                        "ip_day": (w.ip_day, ip_key),
                        "ip_spam_day": (w.ip_spam_day, ip_key),
                    }
                )
        ctx.counts = await self._counts(wanted, now)
        if tenant is not None and not tenant.licensed:  # 5.7.708 only ever applies to trial tenants
            history = (
                ctx.counts.get("ip_week", 0),
                ctx.counts.get("ip_day", 0),
                ctx.counts.get("ip_spam_day", 0),
            )
            ctx.facts["reputation"] = await self.reputation.check(ctx.client_ip, history)
        txn = Transaction(new_queue_id(), utcnow(), client, sender, ctx, attribution)
        if (rep := ctx.facts.get("reputation")) is not None and rep.failures:
            txn.hits.append(
                {
                    "rule": "reputation-lookup",
                    "mode": "failed",
                    "code": None,
                    "reply": "",
                    "detail": "; ".join(rep.failures),
                    "recipients": [],
                }
            )
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
        for d in ([result.decision] if result.decision else []) + result.alerts:
            if d.rule == "sender-limits":  # the sender goes over a limit: restrict it (or only alert)
                limit, cap = d.recipients
                assert txn.attribution is not None
                self.actions.restrict(
                    txn.attribution.tenant,
                    txn.ctx.sender_key,
                    limit,
                    txn.ctx.counts.get(limit, 0),
                    int(cap),
                    str(txn.ctx.settings["restricted_action"]),
                )
        if result.decision is not None:
            self.refuse(txn, Stage.DATA, result.decision)
        return result.decision

    @staticmethod
    def _note(txn: Transaction, result: StageResult) -> None:
        txn.hits += result.hits
        txn.misses += result.misses

    # Outcomes ----------------------------------------------------------------------------------

    def _trace_message(
        self, txn: Transaction, recipients: Sequence[tuple[str, str, str | None, str | None]], **fields: Any
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
        self._trace_rules(txn)

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
        self._trace_rules(txn)

    def _trace_rules(self, txn: Transaction) -> None:
        """Rule decisions as events. "received" and "queued" are facts of the message row itself
        (the detail view shows them as events), so the mail path writes no rows for them."""
        tid = txn.attribution.tenant.id if txn.attribution else None
        for hit in txn.hits:
            self.trace.event(txn.queue_id, tid, "rule", None, at=txn.received, **hit)

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

    async def classify(self, txn: Transaction, content: bytes) -> Verdict | None:
        if self.classifier is None:
            return None
        assert txn.attribution is not None
        return await self.classifier.classify(
            MessageInfo(
                content=content,
                sender=txn.sender,
                recipients=tuple(txn.ctx.recipients),
                client_ip=txn.ctx.client_ip,
                helo=txn.client.helo,
                tenant=txn.attribution.tenant.name,
                auth_user=txn.client.auth_user,
                queue_id=txn.queue_id,
            )
        )

    async def accept(self, txn: Transaction, content: bytes) -> str:
        """Classify, make the message durable, charge counters, trace it, hand it to delivery."""
        tenant = txn.attribution.tenant if txn.attribution else None
        assert tenant is not None
        verdict = await self.classify(txn, content)
        ctx = txn.ctx
        ctx.facts["verdict"] = verdict
        result = self.chain.run(Stage.EOM, ctx)
        self._note(txn, result)
        spam = bool(verdict and verdict.spam)
        bulk = bool(verdict and not spam and verdict.bulk)
        subject, message_id = _subject_and_id(content)
        verdict_fields = verdict.as_trace() if verdict else {}
        if result.decision is not None:  # refused as outbound spam: traced as FilteredAsSpam
            await self._charge(txn, spam, bulk)
            rcpts = [
                (
                    r,
                    "FilteredAsSpam" if spam else "Failed",
                    result.decision.code.enhanced,
                    result.decision.reply,
                )
                for r in ctx.recipients
            ]
            self._trace_message(
                txn,
                rcpts + [(r, "Failed", c, d) for r, c, d in txn.refused],
                refused_stage=Stage.EOM.value,
                code=result.decision.code.enhanced,
                detail=result.decision.reply,
                message_id=message_id[:255],
                subject=subject[:255],
                size=len(content),
                **verdict_fields,
            )
            self._trace_rules(txn)
            metrics.observe_message("refused", result.decision.code.enhanced)
            return result.decision.reply
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
        if spam:
            env.extra["spam"] = True
            env.next_hop = self.settings.abuse.high_risk_smarthost  # the high-risk pool, when configured
        await asyncio.to_thread(self.spool.write, env, [received, content])  # durable before 250
        await self._charge(txn, spam, bulk)
        first = "FilteredAsSpam" if spam else "Pending"
        queued: list[tuple[str, str, str | None, str | None]] = [
            (r, first, None, None) for r in ctx.recipients
        ]
        queued += [(r, "Failed", c, d) for r, c, d in txn.refused]
        self._trace_message(
            txn, queued, message_id=env.message_id[:255], subject=subject[:255], size=size, **verdict_fields
        )
        self._trace_rules(txn)
        self.delivery.submit(env, received + content)
        metrics.observe_message("accepted", "2.0.0")
        return f"250 2.0.0 Ok: queued as {txn.queue_id}"

    async def _charge(self, txn: Transaction, spam: bool, bulk: bool) -> None:
        """Count the message in every window, then check the tenant threshold when it was spam or bulk."""
        ctx, w = txn.ctx, self.windows
        assert txn.attribution is not None
        tenant = txn.attribution.tenant
        key, ip_key, tkey = f"s:{tenant.id}:{ctx.sender_key}", f"ip:{ctx.client_ip}", f"t:{tenant.id}"
        internal = sum(1 for r in ctx.recipients if ctx.is_internal(r))
        items: list[tuple[Window, str, int]] = [
            (w.tenant_messages, tkey, 1),
            (w.ip_week, ip_key, 1),
            (w.ip_day, ip_key, 1),
        ]
        if spam or bulk:
            items.append((w.tenant_spam, tkey, 1))
        if spam:
            items.append((w.ip_spam_day, ip_key, 1))
        if ctx.sender_key:
            items += [
                (w.sender_external, key, len(ctx.recipients) - internal),
                (w.sender_internal, key, internal),
                (w.sender_day, key, len(ctx.recipients)),
            ]
        if ctx.unregistered_sender:
            items.append((UNREGISTERED, tkey, 1))
        try:
            await self.counters.add([i for i in items if i[2]], ctx.now)
            if not (spam or bulk):
                return  # a clean message can only lower the tenant's spam share
            messages, spam_bulk = await self.counters.get(
                [(w.tenant_messages, tkey), (w.tenant_spam, tkey)], ctx.now
            )
        except CountersUnavailable:
            log.error("counter store unavailable: message %s not counted", txn.queue_id)
            return
        limits = ctx.settings
        state = threshold_state(
            messages,
            spam_bulk,
            int(limits["spam_min_messages"]),
            float(limits["spam_ratio"]),
            self.settings.abuse.warn_at,
        )
        if state != "ok":
            self.actions.tenant_state(tenant, state, messages, spam_bulk, limits)

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
        self.trace.event(
            env.queue_id, env.tenant_id, "generated", None, report_for=env.extra.get("report_for")
        )


def _subject_and_id(content: bytes) -> tuple[str, str]:
    end = content.find(b"\r\n\r\n")
    head = content[: end + 2] if end >= 0 else content[:65536]
    try:
        msg = _HEADERS.parsebytes(head)
        return header_text(msg.get("Subject")), (msg.get("Message-ID") or "").strip()
    except Exception:
        return "", ""


__all__ = ["UNREGISTERED", "Attribution", "Client", "Engine", "Transaction", "codes"]
