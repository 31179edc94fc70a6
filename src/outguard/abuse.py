"""Abuse protection around the pure rules: the counter windows, the tenant threshold (5.7.705),
and the side effects — blocking a tenant with its evidence, restricting a sender (5.1.8), and
alerts to the log, a webhook and the tenant's alert address.

Side effects run as background tasks: the SMTP reply never waits for a database write, a webhook
or an alert mail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import httpx
from sqlalchemy import func, or_, select

from outguard import codes
from outguard.config import Settings
from outguard.counters import Window
from outguard.errors import Conflict
from outguard.model import Alert, TraceMessage
from outguard.queue.envelope import Envelope, Recipient, new_queue_id
from outguard.services import Actor, Services
from outguard.store import Database
from outguard.store.snapshot import TenantConfig

log = logging.getLogger("outguard.abuse")


@dataclass(frozen=True)
class Windows:
    """Every rolling window the protections count in, built once from the settings."""

    tenant_messages: Window
    tenant_spam: Window  # spam + bulk verdicts
    sender_external: Window
    sender_internal: Window
    sender_day: Window
    ip_week: Window
    ip_day: Window
    ip_spam_day: Window

    @classmethod
    def from_settings(cls, settings: Settings) -> Windows:
        span = max(int(settings.abuse.window.total_seconds()), 60)
        bucket = max(span // 144, 1)
        span -= span % bucket
        return cls(
            Window("tenant-messages", span, bucket),
            Window("tenant-spam", span, bucket),
            # Coarse buckets for the per-sender and per-IP windows, which are read on every message:
            # a read sums 12-28 buckets instead of hundreds, at the price of at most one bucket
            # (5 minutes, 1 hour) of leniency at the window's old edge.
            Window("sender-external-1h", 3600, 300),
            Window("sender-internal-1h", 3600, 300),
            Window("sender-recipients-1d", 86400, 3600),
            Window("ip-messages-7d", 7 * 86400, 6 * 3600),
            Window("ip-messages-1d", 86400, 3600),
            Window("ip-spam-1d", 86400, 3600),
        )


def threshold_state(messages: int, spam_bulk: int, min_messages: int, ratio: float, warn_at: float) -> str:
    """`tripped` when spam+bulk reached the minimum AND its share reached the ratio; `warning` when
    both are at `warn_at` (80 %) of their limits or more; else `ok`."""
    share = spam_bulk / messages if messages else 0.0
    if spam_bulk >= min_messages and share >= ratio:
        return "tripped"
    if spam_bulk >= warn_at * min_messages and share >= warn_at * ratio:
        return "warning"
    return "ok"


def next_utc_midnight(now: float) -> datetime:
    today = datetime.fromtimestamp(now, UTC).date()
    return datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)


class AbuseActions:
    """The side effects of the protections, each run once, off the SMTP path."""

    def __init__(self, db: Database, settings: Settings, hostname: str) -> None:
        self.db, self.settings, self.hostname = db, settings, hostname
        self.services = Services(db, settings, Actor.system("abuse"))
        self.delivery: Any = None  # set by the node: alert mails are queued like any message
        self.trace: Any = None  # set by the node: flushed before the evidence is read from it
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending: set[str] = set()  # de-duplicates actions already under way in this process
        self._warned: dict[int, float] = {}
        self._http: httpx.AsyncClient | None = None

    def _spawn(self, key: str, coro: Any) -> None:
        if key in self._pending:
            coro.close()
            return
        self._pending.add(key)
        task = asyncio.create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            self._pending.discard(key)
            if not t.cancelled() and t.exception():
                log.error("abuse action %s failed", key, exc_info=t.exception())

        task.add_done_callback(done)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        if self._http:
            await self._http.aclose()

    # Tenant threshold --------------------------------------------------------------------------

    def tenant_state(
        self, tenant: TenantConfig, state: str, messages: int, spam_bulk: int, limits: dict[str, Any]
    ) -> None:
        if state == "tripped" and not tenant.blocked:
            self._spawn(f"block:{tenant.id}", self._block(tenant, messages, spam_bulk, limits))
        elif state == "warning":
            last = self._warned.get(tenant.id, 0.0)
            if time.time() - last > self.settings.abuse.window.total_seconds():
                self._warned[tenant.id] = time.time()
                self._spawn(f"warn:{tenant.id}", self._warn(tenant, messages, spam_bulk, limits))

    async def _warn(
        self, tenant: TenantConfig, messages: int, spam_bulk: int, limits: dict[str, Any]
    ) -> None:
        window = self.settings.abuse.window
        since = datetime.now(UTC) - window
        recent = await asyncio.to_thread(self._recent_alert, tenant.id, "tenant-threshold-warning", since)
        if recent:
            return  # another process (or node) already warned in this window
        message = (
            f"Suspicious tenant sending pattern: {spam_bulk} of {messages} messages in the last {window} "
            f"were spam or bulk; the tenant is blocked (5.7.705) at {limits['spam_min_messages']} "
            f"messages and a {limits['spam_ratio']:.0%} share."
        )
        await self.alert(
            tenant,
            "tenant-threshold-warning",
            message,
            severity="high",
            details={"messages": messages, "spam_bulk": spam_bulk, **_limits(limits)},
        )

    async def _block(
        self, tenant: TenantConfig, messages: int, spam_bulk: int, limits: dict[str, Any]
    ) -> None:
        if self.trace is not None:
            await self.trace.flush()  # the message that tripped the threshold is part of the evidence
        evidence = await asyncio.to_thread(self._evidence, tenant.id)
        evidence.update({"messages": messages, "spam_bulk": spam_bulk, **_limits(limits)})
        reason = (
            f"Outbound spam threshold exceeded: {spam_bulk} of {messages} messages in the last "
            f"{self.settings.abuse.window} were spam or bulk (threshold: {limits['spam_min_messages']} "
            f"messages and {limits['spam_ratio']:.0%})."
        )
        try:
            await asyncio.to_thread(
                self.services.tenants.block,
                tenant.name,
                reason=reason,
                code=codes.TENANT_THRESHOLD.enhanced,
                evidence=evidence,
            )
        except Conflict:
            return  # already blocked (by another process or node, or an operator)
        log.warning("tenant %s blocked: %s", tenant.name, reason)
        await self.alert(
            tenant,
            "tenant-blocked",
            f"Tenant restricted from sending email (5.7.705). {reason}",
            details=evidence,
        )

    def _recent_alert(self, tenant_id: int, kind: str, since: datetime) -> bool:
        with self.db.session() as s:
            return (
                s.scalar(
                    select(Alert.id)
                    .where(Alert.tenant_id == tenant_id, Alert.kind == kind, Alert.at >= since)
                    .limit(1)
                )
                is not None
            )

    def _evidence(self, tenant_id: int) -> dict[str, Any]:
        """What the tenant sent in the window that made it trip: top spam/bulk senders, connectors, IPs."""
        since = datetime.now(UTC) - self.settings.abuse.window
        m = TraceMessage
        bad = or_(m.spam.is_(True), m.bulk_level >= self.settings.spam.bulk_threshold)
        out: dict[str, Any] = {"window_start": since.isoformat().replace("+00:00", "Z")}
        with self.db.session() as s:
            for label, column in (
                ("top_senders", m.sender),
                ("connectors", m.connector),
                ("client_ips", m.client_ip),
            ):
                rows = s.execute(
                    select(column, func.count())
                    .where(m.tenant_id == tenant_id, m.received >= since, bad)
                    .group_by(column)
                    .order_by(func.count().desc())
                    .limit(10)
                ).all()
                out[label] = [{"value": v, "count": n} for v, n in rows]
        return out

    # Restricted senders ------------------------------------------------------------------------

    def restrict(
        self, tenant: TenantConfig, sender: str, limit: str, count: int, cap: int, action: str
    ) -> None:
        self._spawn(
            f"restrict:{tenant.id}:{sender}", self._restrict(tenant, sender, limit, count, cap, action)
        )

    async def _restrict(
        self, tenant: TenantConfig, sender: str, limit: str, count: int, cap: int, action: str
    ) -> None:
        until = next_utc_midnight(time.time()) if action == "block-until-tomorrow" else None
        if action != "alert-only":
            await asyncio.to_thread(
                self.services.restricted.restrict,
                tenant.name,
                sender,
                limit=limit,
                count=count,
                threshold=cap,
                action=action,
                until=until,
            )
            log.warning("sender %s of tenant %s restricted (%s over %d)", sender, tenant.name, limit, cap)
            text = (
                f"User restricted from sending email: {sender} exceeded its {limit.replace('_', ' ')} limit "
                f"of {cap} recipients and is refused with 5.1.8 "
                f"{'until ' + format_datetime(until) if until else 'until an admin releases it'}."
            )
            await self.alert(
                tenant, "sender-restricted", text, details={"sender": sender, "limit": limit, "cap": cap}
            )
        else:
            since = datetime.now(UTC) - timedelta(hours=1)
            if not await asyncio.to_thread(self._recent_alert, tenant.id, "sender-limit-exceeded", since):
                await self.alert(
                    tenant,
                    "sender-limit-exceeded",
                    f"Email sending limit exceeded: {sender} went over "
                    f"its {limit.replace('_', ' ')} limit of {cap} (alert only, not restricted).",
                    severity="medium",
                    details={"sender": sender, "limit": limit, "cap": cap},
                )

    # Alerts ------------------------------------------------------------------------------------

    async def alert(
        self,
        tenant: TenantConfig | None,
        kind: str,
        message: str,
        *,
        severity: str = "high",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record an alert, log it, and send it to the webhook and the tenant's alert address."""
        details = details or {}
        record = await asyncio.to_thread(
            self.services.alerts.raise_alert,
            tenant.name if tenant else None,
            kind,
            message,
            severity=severity,
            details=details,
        )
        log.warning("alert %s%s: %s", kind, f" for {tenant.name}" if tenant else "", message)
        if self.settings.abuse.webhook:
            await self._webhook(record)
        if tenant is not None and tenant.alert_address and self.delivery is not None:
            await self._mail(tenant, kind, message, details)

    async def _webhook(self, record: dict[str, Any]) -> None:
        self._http = self._http or httpx.AsyncClient(timeout=5.0)
        try:
            r = await self._http.post(self.settings.abuse.webhook or "", json={"alert": record})
            if r.status_code >= 300:
                log.error("alert webhook answered %d", r.status_code)
        except httpx.HTTPError as e:
            log.error("alert webhook failed: %s", e)

    async def _mail(self, tenant: TenantConfig, kind: str, message: str, details: dict[str, Any]) -> None:
        assert tenant.alert_address is not None
        msg = EmailMessage()
        msg["From"] = f"Outguard <postmaster@{self.hostname}>"
        msg["To"] = tenant.alert_address
        msg["Subject"] = f"[Outguard] {kind.replace('-', ' ')}: tenant {tenant.name}"
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = make_msgid(domain=self.hostname)
        msg["Auto-Submitted"] = "auto-generated"
        lines = [message, ""] + [f"{k}: {v}" for k, v in details.items()]
        msg.set_content("\n".join(lines))
        data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
        env = Envelope(
            queue_id=new_queue_id(),
            sender="",
            recipients=[Recipient(tenant.alert_address)],
            arrival=time.time(),
            tenant_id=tenant.id,
            tenant_name=tenant.name,
            subject=str(msg["Subject"]),
            size=len(data),
            helo=self.hostname,
            extra={"alert": kind},
        )
        await asyncio.to_thread(self.delivery.spool.write, env, [data])
        self.delivery.submit(env, data)


def _limits(limits: dict[str, Any]) -> dict[str, Any]:
    return {"spam_min_messages": limits["spam_min_messages"], "spam_ratio": limits["spam_ratio"]}
