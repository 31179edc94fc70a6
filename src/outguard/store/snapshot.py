"""The in-memory snapshot of configuration that the mail path reads (never the database per message).

Every configuration change bumps the owning tenant's `config_serial` (or the global serial); a
refresh compares serials and reloads only what changed, so a node with a million list entries
picks up one tenant's edit in milliseconds, and all nodes converge within `snapshot_refresh`.
"""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import select

from outguard.model import (
    AcceptedDomain,
    ConfigSerial,
    Connector,
    ConnectorRange,
    IpException,
    LowReputationIp,
    Mailbox,
    RestrictedSender,
    TablEntry,
    Tenant,
)
from outguard.store.db import Database
from outguard.tabl import TenantBlockList


def _ts(value: datetime | None) -> float:
    return math.inf if value is None else value.timestamp()


@dataclass(frozen=True)
class IpRange:
    first: int
    last: int
    expires: float = math.inf
    label: str = ""


class RangeSet:
    """Non-overlapping or overlapping IPv4 ranges; `find` answers in O(log n + overlaps)."""

    def __init__(self, ranges: list[IpRange]) -> None:
        self.ranges = sorted(ranges, key=lambda r: (r.first, r.last))
        self._firsts = [r.first for r in self.ranges]
        self._widest = max((r.last - r.first for r in self.ranges), default=0)

    def find(self, ip: int, now: float) -> IpRange | None:
        i = bisect.bisect_right(self._firsts, ip)
        # Walk back over ranges that start at or before ip; stop once none can reach it.
        while i > 0:
            i -= 1
            r = self.ranges[i]
            if ip - r.first > self._widest:
                return None
            if r.last >= ip and now < r.expires:
                return r
        return None

    def __len__(self) -> int:
        return len(self.ranges)


@dataclass
class TenantConfig:
    """Everything the policy needs to know about one tenant."""

    id: int
    name: str
    serial: int
    licensed: bool
    subscription_expires: date | None
    status: str
    block_code: str | None
    block_reason: str | None
    tabl_mode: str
    alert_address: str | None
    limits: dict[str, Any]
    domains: dict[str, bool] = field(default_factory=dict)  # accepted domain -> verified
    blocklist: TenantBlockList = field(default_factory=TenantBlockList)
    ip_exceptions: RangeSet = field(default_factory=lambda: RangeSet([]))
    # Attribution inputs, merged into the snapshot's global indexes.
    ip_connectors: list[IpRange] = field(default_factory=list)
    cert_connectors: dict[str, str] = field(default_factory=dict)  # cert domain -> connector name
    mailboxes: dict[str, tuple[str, bool]] = field(default_factory=dict)  # address -> (hash, enabled)
    # Restricted senders (5.1.8): address -> restricted until (POSIX seconds, inf = until released).
    restricted: dict[str, float] = field(default_factory=dict)
    # Senders released today (UTC) are not restricted again the same day (reference: BlockUser).
    released_today: frozenset[str] = frozenset()

    @property
    def blocked(self) -> bool:
        return self.status == "blocked"

    def subscription_lapsed(self, today: date) -> bool:
        return self.subscription_expires is not None and self.subscription_expires < today

    def domain_verified(self, domain: str) -> bool:
        return self.domains.get(domain, False)

    def is_accepted(self, domain: str) -> bool:
        return domain in self.domains


class Snapshot:
    """The configuration of all tenants, as the mail path reads it. `refresh()` is cheap."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tenants: dict[int, TenantConfig] = {}
        self.by_name: dict[str, TenantConfig] = {}
        self.ip_connectors = RangeSet([])
        self.cert_connectors: dict[str, tuple[int, str]] = {}
        self.mailboxes: dict[str, tuple[int, str, bool]] = {}
        self.low_reputation = RangeSet([])
        self.global_serial = -1
        self.loaded_day: date | None = None
        self._lock = threading.Lock()

    # Reads (the mail path) -----------------------------------------------------------------------

    def tenant(self, tenant_id: int) -> TenantConfig | None:
        return self.tenants.get(tenant_id)

    def tenant_for_ip(self, ip: int, now: float) -> tuple[TenantConfig, str] | None:
        r = self.ip_connectors.find(ip, now)
        if r is None:
            return None
        tenant_id, _, connector = r.label.partition(":")
        t = self.tenants.get(int(tenant_id))
        return (t, connector) if t else None

    def tenant_for_certificate(self, names: list[str]) -> tuple[TenantConfig, str, str] | None:
        """Match certificate names (CN/SAN) against certificate connectors (exact, then `*.parent`)."""
        for name in names:
            candidates = [name]
            if "." in name:
                candidates.append("*." + name.split(".", 1)[1])
            for candidate in candidates:
                hit = self.cert_connectors.get(candidate)
                if hit and (t := self.tenants.get(hit[0])):
                    return t, hit[1], candidate
        return None

    def mailbox(self, address: str) -> tuple[TenantConfig, str, bool] | None:
        hit = self.mailboxes.get(address)
        if hit is None:
            return None
        t = self.tenants.get(hit[0])
        return (t, hit[1], hit[2]) if t else None

    # Loading -----------------------------------------------------------------------------------

    def refresh(self) -> list[str]:
        """Reload what changed since the last call; returns the names of reloaded tenants."""
        with self._lock:
            with self.db.session() as s:
                serials = dict(s.execute(select(Tenant.id, Tenant.config_serial)).all())
                global_serial = (
                    s.scalar(select(ConfigSerial.serial).where(ConfigSerial.name == "global")) or 1
                )
                changed = [
                    tid
                    for tid, serial in serials.items()
                    if (t := self.tenants.get(tid)) is None or t.serial != serial
                ]
                gone = [tid for tid in self.tenants if tid not in serials]
                fresh: dict[int, TenantConfig] = {}
                for i in range(0, len(changed), 500):  # stay below bind-parameter limits
                    fresh.update(self._load_tenants(s, changed[i : i + 500]))
                low_rep = None
                if global_serial != self.global_serial:
                    low_rep = RangeSet(
                        [
                            IpRange(r.first, r.last, _ts(r.expires_at), r.cidr)
                            for r in s.scalars(select(LowReputationIp))
                        ]
                    )
            if not changed and not gone and low_rep is None:
                return []
            tenants = dict(self.tenants)
            for tid in gone:
                tenants.pop(tid, None)
            tenants.update(fresh)
            self._publish(tenants)
            if low_rep is not None:
                self.low_reputation, self.global_serial = low_rep, global_serial
            return [t.name for t in fresh.values()]

    def _publish(self, tenants: dict[int, TenantConfig]) -> None:
        # Build the global indexes aside, then swap references: readers never see a half state.
        ip_ranges: list[IpRange] = []
        certs: dict[str, tuple[int, str]] = {}
        mailboxes: dict[str, tuple[int, str, bool]] = {}
        for t in tenants.values():
            ip_ranges.extend(t.ip_connectors)
            certs.update({d: (t.id, name) for d, name in t.cert_connectors.items()})
            mailboxes.update({a: (t.id, h, e) for a, (h, e) in t.mailboxes.items()})
        self.ip_connectors = RangeSet(ip_ranges)
        self.cert_connectors = certs
        self.mailboxes = mailboxes
        self.tenants = tenants
        self.by_name = {t.name: t for t in tenants.values()}

    @staticmethod
    def _load_tenants(s: Any, ids: list[int]) -> dict[int, TenantConfig]:
        out: dict[int, TenantConfig] = {}
        for t in s.scalars(select(Tenant).where(Tenant.id.in_(ids))):
            out[t.id] = TenantConfig(
                id=t.id,
                name=t.name,
                serial=t.config_serial,
                licensed=t.licensed,
                subscription_expires=t.subscription_expires,
                status=t.status,
                block_code=t.block_code,
                block_reason=t.block_reason,
                tabl_mode=t.tabl_mode,
                alert_address=t.alert_address,
                limits=dict(t.limits or {}),
            )
        for tid, domain, verified in s.execute(
            select(AcceptedDomain.tenant_id, AcceptedDomain.domain, AcceptedDomain.verified_at).where(
                AcceptedDomain.tenant_id.in_(ids)
            )
        ):
            out[tid].domains[domain] = verified is not None
        now = datetime.now(UTC)
        rows = s.execute(
            select(TablEntry.tenant_id, TablEntry.value, TablEntry.kind, TablEntry.expires_at)
            .where(
                TablEntry.tenant_id.in_(ids),
                TablEntry.action == "block",
                TablEntry.expires_at.is_(None) | (TablEntry.expires_at > now),
            )
            .execution_options(yield_per=10_000)
        )
        for tid, value, kind, expires in rows:
            out[tid].blocklist.add(value, kind, None if expires is None else expires.timestamp())
        exceptions: dict[int, list[IpRange]] = {}
        for e in s.scalars(select(IpException).where(IpException.tenant_id.in_(ids))):
            exceptions.setdefault(e.tenant_id, []).append(IpRange(e.first, e.last, _ts(e.expires_at), e.cidr))
        for tid, ranges in exceptions.items():
            out[tid].ip_exceptions = RangeSet(ranges)
        for c in s.scalars(
            select(Connector).where(Connector.tenant_id.in_(ids), Connector.enabled.is_(True))
        ):
            if c.kind == "certificate" and c.cert_domain:
                out[c.tenant_id].cert_connectors[c.cert_domain] = c.name
        for tid, first, last, name in s.execute(
            select(ConnectorRange.tenant_id, ConnectorRange.first, ConnectorRange.last, Connector.name)
            .join(Connector)
            .where(ConnectorRange.tenant_id.in_(ids), Connector.enabled.is_(True))
        ):
            out[tid].ip_connectors.append(IpRange(first, last, math.inf, f"{tid}:{name}"))
        for m in s.execute(
            select(Mailbox.tenant_id, Mailbox.address, Mailbox.password_hash, Mailbox.enabled).where(
                Mailbox.tenant_id.in_(ids)
            )
        ):
            out[m.tenant_id].mailboxes[m.address] = (m.password_hash, m.enabled)
        midnight = datetime.combine(now.date(), time(0), UTC)
        released: dict[int, set[str]] = {}
        for r in s.scalars(
            select(RestrictedSender).where(
                RestrictedSender.tenant_id.in_(ids),
                RestrictedSender.action != "alert-only",
                RestrictedSender.released_at.is_(None) | (RestrictedSender.released_at >= midnight),
            )
        ):
            if r.released_at is not None:
                released.setdefault(r.tenant_id, set()).add(r.address)
            elif r.until is None or r.until > now:
                current = out[r.tenant_id].restricted.get(r.address, 0.0)
                out[r.tenant_id].restricted[r.address] = max(current, _ts(r.until))
        for tid, addresses in released.items():
            out[tid].released_today = frozenset(addresses)
        return out
