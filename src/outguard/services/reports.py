"""Reports: aggregations of the message trace, per tenant (tenant admins) or across tenants (operators).

Every report counts trace rows, exactly as `outguard trace` lists them: one row per message and
recipient (a message to 5 recipients counts 5, as in the reference reports); a message refused
before any recipient was given (at MAIL FROM) is one row. The gateway's own delivery reports
(NDRs, `via = "ndr"`) are not mail a tenant sent and are left out. Days are UTC dates.

Aggregation happens in SQL (GROUP BY day and category), so a 90-day window of a busy tenant reads
an index range and returns a few hundred rows; only spam verdicts (a JSON list of test names) and
the sample message ids of the non-accepted domain report are finished in Python.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from outguard import codes
from outguard.errors import InvalidValue
from outguard.model import Connector, Tenant, TraceMessage, TraceRecipient
from outguard.ndr.explain import describe
from outguard.services.base import ServiceBase
from outguard.util import isoformat, utcnow

DEFAULT_DAYS = 7
MAX_DAYS = 90
TOP_N = 20
SAMPLES = 5
# Refused at the edge (during the SMTP dialogue, before content was looked at): ref. §6.1 "Edge
# protection". 5.7.703 is the allow/block list and has a column of its own.
EDGE_CODES = ("5.7.64", "5.7.705", "5.7.708", "5.7.750", "5.1.8", "5.7.60")
TABL_CODE = codes.TABL_BLOCKED.enhanced
# The compromised-connector pattern (ref. §5.5): a connector created recently that suddenly carries
# far more than the tenant usually sends.
UNUSUAL_CREATED_WITHIN = timedelta(days=7)
UNUSUAL_FACTOR = 10
UNUSUAL_MIN_VOLUME = 100  # below this a day is never "sudden volume", whatever the median
# TLS versions as `ssl.SSLObject.version()` names them, and their report columns.
TLS_VERSIONS = {"TLSv1": "tls_1_0", "TLSv1.1": "tls_1_1", "TLSv1.2": "tls_1_2", "TLSv1.3": "tls_1_3"}

MAILFLOW_CATEGORIES = ("good", "spam", "bulk", "edge_blocked", "tabl_blocked", "refused_other", "failed")


@dataclass(frozen=True)
class ReportInfo:
    name: str
    title: str
    description: str


REPORTS: dict[str, ReportInfo] = {
    r.name: r
    for r in (
        ReportInfo(
            "mailflow",
            "Mailflow status (outbound)",
            "Per day: good mail, spam, bulk, refused at the edge (5.7.64, 5.7.705, 5.7.708, 5.7.750, "
            "5.1.8, 5.7.60), blocked by the allow/block list (5.7.703), other refusals, failed delivery.",
        ),
        ReportInfo(
            "spam",
            "Spam and threat protection status",
            "Spam and bulk verdicts per day, by detection: the built-in tests that fired, Rspamd, bulk level.",
        ),
        ReportInfo(
            "top-senders",
            "Top senders and recipients",
            "The top 20 senders, the top 20 recipient domains, and the top spam senders.",
        ),
        ReportInfo(
            "connectors",
            "Outbound connector report",
            "Per connector and day: messages, TLS use and version, mail from unregistered domains; "
            "recently created connectors with sudden volume are flagged as unusual.",
        ),
        ReportInfo(
            "non-accepted-domains",
            "Non-accepted domain report",
            "Per day and connector: sender domains that are not accepted domains of the tenant, with "
            "counts and sample messages — the evidence behind 5.7.750.",
        ),
    )
}


def _window(days: int | None) -> tuple[int, date, datetime, datetime]:
    n = DEFAULT_DAYS if days is None else days
    if not 1 <= n <= MAX_DAYS:
        raise InvalidValue("number of days", n, f"must be between 1 and {MAX_DAYS}")
    now = utcnow()
    first = now.date() - timedelta(days=n - 1)
    return n, first, datetime.combine(first, time(0), now.tzinfo), now


def _dates(first: date, n: int) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range(n)]


def _domain(address: str | None) -> str:
    return (address or "").rpartition("@")[2].lower() or "(none)"


class ReportService(ServiceBase):
    """The five reports, the dashboard's headroom and refusal counts — all read through the
    actor's tenant-scoped session, so a tenant admin can only ever aggregate its own trace."""

    # Building blocks ---------------------------------------------------------------------------

    def _day(self, column: Any) -> ColumnElement[Any]:
        """The UTC date of a timestamp column, portably (SQLite stores UTC text; PostgreSQL timestamptz)."""
        if self.db.is_sqlite:
            return func.date(column)
        return func.date(func.timezone("UTC", column))

    def _scope(self, s: Any, tenant: str | None) -> tuple[str | None, list[ColumnElement[bool]]]:
        """The tenant filter the caller asked for (the session adds the actor's own on top)."""
        m = TraceMessage
        where: list[ColumnElement[bool]] = [or_(m.via.is_(None), m.via != "ndr")]
        if tenant:
            t = self.tenant(s, tenant)
            return t.name, [*where, m.tenant_id == t.id]
        if self.actor.tenant_id is not None:
            t = s.get(Tenant, self.actor.tenant_id)
            return (t.name if t else None), where
        return None, where

    def _refused(self) -> ColumnElement[bool]:
        """Refused during the SMTP dialogue: the whole transaction, or this recipient at RCPT."""
        m, r = TraceMessage, TraceRecipient
        return or_(m.refused_stage.is_not(None), and_(r.status == "Failed", r.attempts == 0))

    def _category(self) -> ColumnElement[str]:
        """The mailflow category of one trace row, first match wins (see docs/portal-and-api.md)."""
        m, r = TraceMessage, TraceRecipient
        code = func.coalesce(r.code, m.code)
        bulk = self.settings.spam.bulk_threshold
        return case(
            (code == TABL_CODE, literal("tabl_blocked")),
            (and_(self._refused(), code.in_(EDGE_CODES)), literal("edge_blocked")),
            (or_(m.spam.is_(True), r.status.in_(("FilteredAsSpam", "Quarantined"))), literal("spam")),
            (self._refused(), literal("refused_other")),
            (m.bulk_level >= bulk, literal("bulk")),
            (r.status == "Failed", literal("failed")),
            else_=literal("good"),
        )

    def _rows(self, *columns: Any) -> Any:
        m, r = TraceMessage, TraceRecipient
        return select(*columns).select_from(m).outerjoin(r, r.queue_id == m.queue_id)

    def _head(self, name: str, tenant: str | None, n: int, first: date, end: datetime) -> dict[str, Any]:
        info = REPORTS[name]
        return {
            "report": name,
            "title": info.title,
            "description": info.description,
            "tenant": tenant,
            "days": n,
            "start": first.isoformat(),
            "end": end.date().isoformat(),
            "generated": isoformat(utcnow()),
        }

    # The reports ---------------------------------------------------------------------------------

    def report(self, name: str, *, tenant: str | None = None, days: int | None = None) -> dict[str, Any]:
        """Any report by its `outguard report` name."""
        builders = {
            "mailflow": self.mailflow,
            "spam": self.spam,
            "top-senders": self.top_senders,
            "connectors": self.connectors,
            "non-accepted-domains": self.non_accepted_domains,
        }
        if name not in builders:
            raise InvalidValue("report", name, f"expected one of {', '.join(builders)}")
        return builders[name](tenant=tenant, days=days)

    def mailflow(self, *, tenant: str | None = None, days: int | None = None) -> dict[str, Any]:
        """Mailflow status (outbound): per day, how many trace rows fell in each category."""
        n, first, start, end = _window(days)
        m = TraceMessage
        day, cat = self._day(m.received), self._category()
        with self.session() as s:
            name, where = self._scope(s, tenant)
            q = (
                self._rows(day, cat, func.count())
                .where(m.received >= start, m.received <= end, *where)
                .group_by(day, cat)
            )
            found = s.execute(q).all()
        per_day = {d: dict.fromkeys(MAILFLOW_CATEGORIES, 0) for d in _dates(first, n)}
        for d, category, count in found:
            per_day.setdefault(str(d), dict.fromkeys(MAILFLOW_CATEGORIES, 0))[category] += count
        rows = [{"date": d, "total": sum(c.values()), **c} for d, c in sorted(per_day.items())]
        totals = {k: sum(r[k] for r in rows) for k in ("total", *MAILFLOW_CATEGORIES)}
        return {
            **self._head("mailflow", name, n, first, end),
            "columns": ["date", "total", *MAILFLOW_CATEGORIES],
            "rows": rows,
            "totals": totals,
        }

    def spam(self, *, tenant: str | None = None, days: int | None = None) -> dict[str, Any]:
        """Spam and bulk verdicts per day by detection.

        Each row counts trace rows; one spam message usually fires several tests, so the detection
        rows of a day add up to more than its spam count.
        """
        n, first, start, end = _window(days)
        m = TraceMessage
        bulk_threshold = self.settings.spam.bulk_threshold
        day = self._day(m.received)
        r = TraceRecipient
        # Recipients of the message (a JSON column cannot be grouped by on PostgreSQL).
        weight = select(func.count()).where(r.queue_id == m.queue_id).correlate(m).scalar_subquery()
        with self.session() as s:
            name, where = self._scope(s, tenant)
            q = select(m.id, day, m.spam, m.bulk_level, m.classifier, m.spam_tests, weight).where(
                m.received >= start,
                m.received <= end,
                or_(m.spam.is_(True), m.bulk_level >= bulk_threshold),
                *where,
            )
            found = [(*row[:-1], max(row[-1], 1)) for row in s.execute(q).all()]
        per_day = {d: {"spam": 0, "bulk": 0, "builtin": 0, "rspamd": 0} for d in _dates(first, n)}
        detections: dict[tuple[str, str], int] = defaultdict(int)
        for _id, d, is_spam, level, classifier, tests, count in found:
            bucket = per_day.setdefault(str(d), {"spam": 0, "bulk": 0, "builtin": 0, "rspamd": 0})
            if is_spam:
                bucket["spam"] += count
                technology = classifier if classifier in ("builtin", "rspamd") else "builtin"
                bucket[technology] += count
                for test in tests or [technology]:
                    detections[(str(d), f"{technology}:{test}" if tests else technology)] += count
            else:
                bucket["bulk"] += count
                detections[(str(d), f"bulk:BCL {level}")] += count
        days_rows = [{"date": d, **c} for d, c in sorted(per_day.items())]
        rows = [{"date": d, "detection": det, "messages": c} for (d, det), c in sorted(detections.items())]
        by_detection: dict[str, int] = defaultdict(int)
        for r in rows:
            by_detection[r["detection"]] += r["messages"]
        return {
            **self._head("spam", name, n, first, end),
            "bulk_threshold": bulk_threshold,
            "columns": ["date", "detection", "messages"],
            "rows": rows,
            "series": days_rows,
            "detections": [
                {"detection": k, "messages": v}
                for k, v in sorted(by_detection.items(), key=lambda kv: (-kv[1], kv[0]))
            ],
            "totals": {
                "spam": sum(r["spam"] for r in days_rows),
                "bulk": sum(r["bulk"] for r in days_rows),
            },
        }

    def top_senders(self, *, tenant: str | None = None, days: int | None = None) -> dict[str, Any]:
        """Top 20 senders, top 20 recipient domains, top 20 spam senders."""
        n, first, start, end = _window(days)
        m, r = TraceMessage, TraceRecipient
        count = func.count().label("n")
        with self.session() as s:
            name, where = self._scope(s, tenant)
            window = [m.received >= start, m.received <= end, *where]
            senders = s.execute(
                self._rows(m.sender, count)
                .where(*window)
                .group_by(m.sender)
                .order_by(count.desc(), m.sender)
                .limit(TOP_N)
            ).all()
            spam_senders = s.execute(
                self._rows(m.sender, count)
                .where(*window, m.spam.is_(True))
                .group_by(m.sender)
                .order_by(count.desc(), m.sender)
                .limit(TOP_N)
            ).all()
            # Domains are grouped in Python: a portable "part after @" costs more SQL than it saves.
            recipients = s.execute(
                self._rows(func.lower(r.recipient), count)
                .where(*window, r.recipient.is_not(None))
                .group_by(func.lower(r.recipient))
            ).all()
        domains: dict[str, int] = defaultdict(int)
        for address, c in recipients:
            domains[_domain(address)] += c
        top_domains = sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]

        def ranked(section: str, pairs: Any) -> list[dict[str, Any]]:
            return [
                {"section": section, "rank": i, "value": v or "<>", "messages": c}
                for i, (v, c) in enumerate(pairs, 1)
            ]

        top = ranked("sender", senders)
        top_rcpt = ranked("recipient_domain", top_domains)
        top_spam = ranked("spam_sender", spam_senders)
        return {
            **self._head("top-senders", name, n, first, end),
            "columns": ["section", "rank", "value", "messages"],
            "rows": top + top_rcpt + top_spam,
            "senders": top,
            "recipient_domains": top_rcpt,
            "spam_senders": top_spam,
        }

    def connectors(self, *, tenant: str | None = None, days: int | None = None) -> dict[str, Any]:
        """Per connector and day: volume, TLS, unregistered senders; unusual connectors flagged."""
        n, first, start, end = _window(days)
        m = TraceMessage
        day = self._day(m.received)
        tls_cols = [func.sum(case((m.tls == v, 1), else_=0)) for v in TLS_VERSIONS]
        with self.session() as s:
            name, where = self._scope(s, tenant)
            window = [m.received >= start, m.received <= end, *where]
            found = s.execute(
                self._rows(
                    m.tenant_id,
                    m.tenant_name,
                    m.connector,
                    m.via,
                    day,
                    func.count(),
                    func.sum(case((m.tls.is_(None), 1), else_=0)),
                    func.sum(case((m.unregistered.is_(True), 1), else_=0)),
                    *tls_cols,
                )
                .where(*window)
                .group_by(m.tenant_id, m.tenant_name, m.connector, m.via, day)
            ).all()
            configured = {
                (c.tenant_id, c.name): c for c in s.scalars(select(Connector).order_by(Connector.name))
            }
        now = utcnow()
        rows: list[dict[str, Any]] = []
        tenant_daily: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(_dates(first, n), 0))
        for tid, tname, connector, via, d, count, no_tls, unregistered, *by_version in found:
            tenant_daily[tid][str(d)] = tenant_daily[tid].get(str(d), 0) + count
            label = connector or {"auth": "(SMTP AUTH)", "certificate": "(certificate)"}.get(
                via, "(unattributed)"
            )
            conf = configured.get((tid, connector)) if connector else None
            rows.append(
                {
                    "date": str(d),
                    "tenant": tname,
                    "connector": label,
                    "via": via or None,
                    "messages": count,
                    "tls": count - int(no_tls or 0),
                    "no_tls": int(no_tls or 0),
                    **{col: int(x or 0) for col, x in zip(TLS_VERSIONS.values(), by_version, strict=True)},
                    "unregistered": int(unregistered or 0),
                    "created_at": isoformat(conf.created_at) if conf else None,
                    "created_by": conf.created_by if conf else None,
                    "configured": conf is not None if connector else None,
                    "_tid": tid,
                    "_conf": conf,
                }
            )
        # Unusual: created within the last 7 days and some day's volume >= 10x the tenant's median
        # daily volume over the window (and at least UNUSUAL_MIN_VOLUME).
        unusual: set[tuple[Any, str]] = set()
        peak: dict[tuple[Any, str], int] = defaultdict(int)
        for row in rows:
            key = (row["_tid"], row["connector"])
            peak[key] = max(peak[key], row["messages"])
        for row in rows:
            conf = row["_conf"]
            key = (row["_tid"], row["connector"])
            if conf is None or now - conf.created_at > UNUSUAL_CREATED_WITHIN:
                continue
            median = statistics.median(tenant_daily[row["_tid"]].values())
            if peak[key] >= max(UNUSUAL_FACTOR * median, UNUSUAL_MIN_VOLUME):
                unusual.add(key)
        for row in rows:
            row["unusual"] = (row.pop("_tid"), row["connector"]) in unusual
            row.pop("_conf")
        rows.sort(key=lambda r: (r["date"], r["tenant"] or "", r["connector"]))
        summary: dict[tuple[str | None, str], dict[str, Any]] = {}
        for row in rows:
            agg = summary.setdefault(
                (row["tenant"], row["connector"]),
                {
                    "tenant": row["tenant"],
                    "connector": row["connector"],
                    "messages": 0,
                    "no_tls": 0,
                    "unregistered": 0,
                    "created_at": row["created_at"],
                    "created_by": row["created_by"],
                    "configured": row["configured"],
                    "unusual": row["unusual"],
                },
            )
            for k in ("messages", "no_tls", "unregistered"):
                agg[k] += row[k]
        return {
            **self._head("connectors", name, n, first, end),
            "columns": [
                "date",
                "tenant",
                "connector",
                "via",
                "messages",
                "tls",
                "no_tls",
                *TLS_VERSIONS.values(),
                "unregistered",
                "created_at",
                "created_by",
                "configured",
                "unusual",
            ],
            "rows": rows,
            "connectors": sorted(summary.values(), key=lambda c: (-c["messages"], c["connector"])),
            "dates": _dates(first, n),
            "rule": (
                f"unusual: created within the last {UNUSUAL_CREATED_WITHIN.days} days and a day's volume "
                f"of at least {UNUSUAL_FACTOR}x the tenant's median daily volume over the window "
                f"(and at least {UNUSUAL_MIN_VOLUME})"
            ),
        }

    def non_accepted_domains(self, *, tenant: str | None = None, days: int | None = None) -> dict[str, Any]:
        """Per day and connector: sender domains that are not accepted (and verified) domains."""
        n, first, start, end = _window(days)
        m = TraceMessage
        day = self._day(m.received)
        refused = case((m.code == codes.UNREGISTERED_DOMAIN.enhanced, 1), else_=0)
        with self.session() as s:
            name, where = self._scope(s, tenant)
            window = [m.received >= start, m.received <= end, m.unregistered.is_(True), *where]
            grouped = s.execute(
                self._rows(
                    day,
                    m.tenant_name,
                    m.connector,
                    m.via,
                    func.lower(m.sender),
                    func.count(),
                    func.sum(refused),
                )
                .where(*window)
                .group_by(day, m.tenant_name, m.connector, m.via, func.lower(m.sender))
            ).all()
            recent = s.execute(
                select(day, m.tenant_name, m.connector, m.via, func.lower(m.sender), m.queue_id)
                .where(*window)
                .order_by(m.received.desc())
                .limit(5000)
            ).all()
        groups: dict[tuple[str, Any, str, str], dict[str, Any]] = {}

        def key(d: Any, tname: Any, connector: Any, via: Any, sender: Any) -> tuple[str, Any, str, str]:
            label = connector or {"auth": "(SMTP AUTH)"}.get(via, "(none)")
            return (str(d), tname, label, _domain(sender))

        for d, tname, connector, via, sender, count, refused_n in grouped:
            k = key(d, tname, connector, via, sender)
            g = groups.setdefault(
                k,
                {
                    "date": k[0],
                    "tenant": tname,
                    "connector": k[2],
                    "sender_domain": k[3],
                    "messages": 0,
                    "refused": 0,
                    "sample_queue_ids": [],
                },
            )
            g["messages"] += count
            g["refused"] += int(refused_n or 0)
        for d, tname, connector, via, sender, queue_id in recent:
            g2 = groups.get(key(d, tname, connector, via, sender))
            if (
                g2 is not None
                and len(g2["sample_queue_ids"]) < SAMPLES
                and queue_id not in g2["sample_queue_ids"]
            ):
                g2["sample_queue_ids"].append(queue_id)
        rows = sorted(groups.values(), key=lambda g: (g["date"], -g["messages"], g["sender_domain"]))
        per_day = dict.fromkeys(_dates(first, n), 0)
        for g in rows:
            per_day[g["date"]] = per_day.get(g["date"], 0) + g["messages"]
        return {
            **self._head("non-accepted-domains", name, n, first, end),
            "columns": [
                "date",
                "tenant",
                "connector",
                "sender_domain",
                "messages",
                "refused",
                "sample_queue_ids",
            ],
            "rows": rows,
            "series": [{"date": d, "messages": c} for d, c in sorted(per_day.items())],
            "totals": {"messages": sum(per_day.values()), "refused": sum(g["refused"] for g in rows)},
        }

    # The dashboard -------------------------------------------------------------------------------

    def refusals(self, *, tenant: str | None = None, hours: int = 24) -> list[dict[str, Any]]:
        """Recent refusals during the SMTP dialogue, by code, with the catalogue's name and anchor."""
        m, r = TraceMessage, TraceRecipient
        code = func.coalesce(r.code, m.code)
        since = utcnow() - timedelta(hours=hours)
        with self.session() as s:
            _name, where = self._scope(s, tenant)
            found = s.execute(
                self._rows(code, func.count())
                .where(m.received >= since, self._refused(), code.is_not(None), *where)
                .group_by(code)
                .order_by(func.count().desc())
            ).all()
        out = []
        for c, count in found:
            entry = describe(c)
            out.append({"code": c, "name": entry.name, "anchor": entry.anchor, "count": count})
        return out

    def headroom(self, tenant: str, live: dict[str, int] | None = None) -> dict[str, Any]:
        """How close a tenant is to its thresholds.

        `live` holds the engine's own counters (`Engine.live_counts`), which the thresholds are
        enforced on; without them (a CLI, a web process without a gateway) the same arithmetic runs
        over the trace: messages in the last `[abuse] window`, how many were spam or bulk, and mail
        from unregistered sender domains in the last 24 hours. Counted per message, as the
        thresholds are.
        """
        m = TraceMessage
        abuse, now = self.settings.abuse, utcnow()
        with self.session() as s:
            t = self.tenant(s, tenant)
            limits = t.limits or {}
            accepted = [m.tenant_id == t.id, m.refused_stage.is_(None), or_(m.via.is_(None), m.via != "ndr")]
            since = now - abuse.window
            total, spam, bulk = s.execute(
                select(
                    func.count(),
                    func.sum(case((m.spam.is_(True), 1), else_=0)),
                    func.sum(
                        case(
                            (
                                and_(
                                    or_(m.spam.is_(None), m.spam.is_(False)),
                                    m.bulk_level >= self.settings.spam.bulk_threshold,
                                ),
                                1,
                            ),
                            else_=0,
                        )
                    ),
                ).where(*accepted, m.received >= since)
            ).one()
            unregistered = s.scalar(
                select(func.count()).where(
                    *accepted, m.unregistered.is_(True), m.received >= now - timedelta(hours=24)
                )
            )
            status = {"status": t.status, "code": t.block_code, "reason": t.block_reason}
            name = t.name
        ratio = float(limits.get("spam_ratio", abuse.spam_ratio))
        min_messages = int(limits.get("spam_min_messages", abuse.spam_min_messages))
        allowance = int(limits.get("unregistered_allowance", self.settings.policy.unregistered_allowance))
        spam_bulk = int(spam or 0) + int(bulk or 0)
        source = "trace"
        if live is not None:  # the counters the thresholds are enforced on
            total, spam_bulk, unregistered = live["messages"], live["spam_bulk"], live["unregistered"]
            source = "counters"
        share = spam_bulk / total if total else 0.0
        return {
            "tenant": name,
            **status,
            "source": source,
            "spam": {
                "window_seconds": int(abuse.window.total_seconds()),
                "messages": int(total or 0),
                "spam": int(spam or 0),
                "bulk": int(bulk or 0),
                "spam_bulk": spam_bulk,
                "share": round(share, 4),
                "spam_ratio": ratio,
                "spam_min_messages": min_messages,
                # The threshold trips when both hold: enough spam/bulk, and a large enough share.
                "over_threshold": spam_bulk >= min_messages and share >= ratio,
            },
            "unregistered": {
                "window_seconds": 86400,
                "messages": int(unregistered or 0),
                "allowance": allowance,
                "remaining": max(allowance - int(unregistered or 0), 0),
            },
        }
