"""Message trace search and detail, tenant-isolated like every other read (one row per recipient)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from outguard.errors import InvalidValue, NotFound
from outguard.model import TraceEvent, TraceMessage, TraceRecipient
from outguard.services.base import ServiceBase
from outguard.util import isoformat, utcnow

STATUSES = ("Delivered", "Failed", "Pending", "FilteredAsSpam", "Quarantined")
DEFAULT_WINDOW = timedelta(hours=48)
MAX_HISTORY = timedelta(days=90)


def parse_time(value: str | datetime | None, what: str) -> datetime | None:
    """ISO 8601 times or relative ones (`2h`, `3d` ago)."""
    if value is None or isinstance(value, datetime):
        return value
    raw = value.strip()
    if raw and raw[-1] in "mhd" and raw[:-1].isdigit():
        unit = {"m": "minutes", "h": "hours", "d": "days"}[raw[-1]]
        return utcnow() - timedelta(**{unit: int(raw[:-1])})
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(what, value, "expected an ISO 8601 time (2026-11-26T10:00Z) or e.g. 2h, 3d")
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _like(pattern: str) -> str:
    """One `*` wildcard as in the reference trace (`*@example.com`); other LIKE metacharacters escaped."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


class TraceService(ServiceBase):
    def search(
        self,
        *,
        tenant: str | None = None,
        sender: str | None = None,
        recipient: str | None = None,
        message_id: str | None = None,
        status: str | None = None,
        subject: str | None = None,
        client_ip: str | None = None,
        code: str | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int = 1000,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        until_t = parse_time(until, "until") or utcnow()
        since_t = parse_time(since, "since") or until_t - DEFAULT_WINDOW
        if since_t < utcnow() - MAX_HISTORY - timedelta(days=1):
            raise InvalidValue("since", since, "the trace keeps 90 days of history")
        if status and status not in STATUSES:
            raise InvalidValue("status", status, f"expected one of {', '.join(STATUSES)}")
        for what, value in (("sender", sender), ("recipient", recipient)):
            if value and value.count("*") > 1:
                raise InvalidValue(what, value, "only one * wildcard is allowed")
        if not 1 <= limit <= 5000:
            raise InvalidValue("limit", limit, "must be between 1 and 5000")
        m, r = TraceMessage, TraceRecipient
        q = (
            select(m, r)
            .outerjoin(r, r.queue_id == m.queue_id)
            .where(m.received >= since_t, m.received <= until_t)
        )
        with self.session() as s:
            if tenant:
                q = q.where(m.tenant_id == self.tenant(s, tenant).id)
            if sender:
                q = q.where(
                    m.sender.like(_like(sender.lower()), escape="\\")
                    if "*" in sender
                    else func.lower(m.sender) == sender.lower()
                )
            if recipient:
                q = q.where(
                    r.recipient.like(_like(recipient.lower()), escape="\\")
                    if "*" in recipient
                    else func.lower(r.recipient) == recipient.lower()
                )
            if message_id:
                mid = message_id.strip()
                q = q.where(
                    or_(m.message_id == mid, m.message_id == f"<{mid.strip('<>')}>", m.queue_id == mid)
                )
            if status:
                q = q.where(or_(r.status == status, and_(r.id.is_(None), status == "Failed")))
            if code:
                q = q.where(or_(r.code == code, m.code == code))
            if subject:
                q = q.where(m.subject.ilike(f"%{_like(subject)}%", escape="\\"))
            if client_ip:
                q = q.where(m.client_ip == client_ip)
            q = q.order_by(m.received.desc(), m.id.desc(), r.id).limit(limit).offset(offset)
            return [self._row(msg, rcpt) for msg, rcpt in s.execute(q).all()]

    @staticmethod
    def _row(msg: TraceMessage, rcpt: TraceRecipient | None) -> dict[str, Any]:
        return {
            "message_id": msg.message_id or None,
            "queue_id": msg.queue_id,
            "tenant": msg.tenant_name,
            "received": isoformat(msg.received),
            "sender": msg.sender,
            "recipient": rcpt.recipient if rcpt else None,
            "subject": msg.subject,
            "status": rcpt.status if rcpt else "Failed",
            "code": (rcpt.code if rcpt and rcpt.code else None) or msg.code,
            "detail": (rcpt.detail if rcpt and rcpt.detail else None) or msg.detail,
            "client_ip": msg.client_ip,
            "size": msg.size,
        }

    def detail(self, queue_id: str) -> dict[str, Any]:
        with self.session() as s:
            msg = s.scalar(select(TraceMessage).where(TraceMessage.queue_id == queue_id))
            if msg is None:
                raise NotFound(f"no traced message with queue id {queue_id!r}")
            rcpts = s.scalars(
                select(TraceRecipient).where(TraceRecipient.queue_id == queue_id).order_by(TraceRecipient.id)
            ).all()
            events = s.scalars(
                select(TraceEvent)
                .where(TraceEvent.queue_id == queue_id)
                .order_by(TraceEvent.at, TraceEvent.id)
            ).all()
            return {
                "queue_id": msg.queue_id,
                "message_id": msg.message_id or None,
                "tenant": msg.tenant_name,
                "received": isoformat(msg.received),
                "sender": msg.sender,
                "subject": msg.subject,
                "size": msg.size,
                "client_ip": msg.client_ip,
                "helo": msg.helo,
                "via": msg.via,
                "connector": msg.connector,
                "auth_user": msg.auth_user,
                "tls": msg.tls,
                "unregistered_sender": msg.unregistered,
                "refused_stage": msg.refused_stage,
                "code": msg.code,
                "detail": msg.detail,
                "rule_hits": msg.rule_hits,
                "spam": msg.spam,
                "spam_score": msg.spam_score,
                "bulk_level": msg.bulk_level,
                "spam_tests": msg.spam_tests,
                "classifier": msg.classifier,
                "rule_misses": msg.rule_misses,
                "recipients": [
                    {
                        "recipient": x.recipient,
                        "status": x.status,
                        "code": x.code,
                        "detail": x.detail,
                        "remote_mta": x.remote_mta,
                        "attempts": x.attempts,
                        "updated": isoformat(x.updated),
                    }
                    for x in rcpts
                ],
                "events": _timeline(msg, events),
            }


def _timeline(msg: TraceMessage, events: list[TraceEvent]) -> list[dict[str, Any]]:
    """Every event of the message: "received" and "queued"/"refused" come from the message row
    (the mail path does not write them twice), the rest from the stored events."""
    at = isoformat(msg.received)
    out: list[dict[str, Any]] = [
        {
            "at": at,
            "kind": "received",
            "recipient": None,
            "client_ip": msg.client_ip,
            "helo": msg.helo,
            "via": msg.via,
            "connector": msg.connector,
            "tls": msg.tls,
            "rules_passed": msg.rule_misses,
        }
    ]
    stored = [
        {"at": isoformat(e.at), "kind": e.kind, "recipient": e.recipient, **(e.detail or {})} for e in events
    ]
    rules = [e for e in stored if e["kind"] == "rule"]
    rest = [e for e in stored if e["kind"] != "rule"]
    out += rules
    if msg.refused_stage:
        out.append(
            {
                "at": at,
                "kind": "refused",
                "recipient": None,
                "stage": msg.refused_stage,
                "code": msg.code,
                "reply": msg.detail,
            }
        )
    else:
        out.append({"at": at, "kind": "queued", "recipient": None, "size": msg.size})
    return out + rest
