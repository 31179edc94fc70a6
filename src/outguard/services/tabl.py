"""The Tenant Allow/Block List: add, list, change expiry or notes, remove — with quota and audit."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select

from outguard.errors import Conflict, InvalidValue, NotFound, QuotaExceeded
from outguard.model import TablEntry
from outguard.services.base import ServiceBase, parse_expiry
from outguard.tabl import parse_value
from outguard.util import isoformat, utcnow

MAX_BLOCK_DAYS = 90  # the reference UI allows a specific date at most 90 days ahead
MAX_ALLOW_DAYS = 30


def entry_view(e: TablEntry) -> dict[str, Any]:
    now = utcnow()
    return {
        "value": e.value,
        "kind": e.kind,
        "action": e.action,
        "expires_at": isoformat(e.expires_at),
        "expired": e.expires_at is not None and e.expires_at <= now,
        "notes": e.notes,
        "created_at": isoformat(e.created_at),
        "created_by": e.created_by,
        "modified_at": isoformat(e.modified_at),
        "modified_by": e.modified_by,
        "last_used_at": isoformat(e.last_used_at),
    }


class TablService(ServiceBase):
    def quota(self, limits: dict[str, Any] | None) -> int:
        return int((limits or {}).get("tabl_quota", self.settings.policy.tabl_quota))

    def add(
        self,
        tenant: str,
        values: list[str],
        *,
        action: str = "block",
        days: int | None = None,
        expires: str | date | None = None,
        no_expiration: bool = False,
        notes: str = "",
    ) -> list[dict[str, Any]]:
        """Add entries; all values are validated first, so nothing is written when one is bad."""
        if action not in ("block", "allow"):
            raise InvalidValue("action", action, "expected block or allow")
        if not values:
            raise InvalidValue("list value", "", "give at least one value")
        if action == "allow" and no_expiration:
            raise InvalidValue("expiry", "--no-expiration", "allow entries always expire")
        parsed = [parse_value(v) for v in values]
        seen: set[str] = set()
        for p in parsed:
            if p.value in seen:
                raise InvalidValue("list value", p.value, "given twice")
            seen.add(p.value)
        max_days = MAX_BLOCK_DAYS if action == "block" else MAX_ALLOW_DAYS
        expiry = parse_expiry(
            days=days,
            expires=expires,
            no_expiration=no_expiration,
            default_days=self.settings.policy.tabl_default_days if action == "block" else MAX_ALLOW_DAYS,
            max_days=max_days,
        )
        return self._insert(tenant, [(p, expiry, notes.strip()) for p in parsed], action)

    def import_rows(
        self, tenant: str, rows: list[dict[str, str]], *, action: str = "block"
    ) -> list[dict[str, Any]]:
        """Add entries from rows of `value`, `notes`, `expires` (a date, an ISO time, `never`, or
        empty for the default) — all or nothing, like `add`."""
        if action not in ("block", "allow"):
            raise InvalidValue("action", action, "expected block or allow")
        max_days = MAX_BLOCK_DAYS if action == "block" else MAX_ALLOW_DAYS
        default = self.settings.policy.tabl_default_days if action == "block" else MAX_ALLOW_DAYS
        items = []
        seen: set[str] = set()
        for i, row in enumerate(rows, 1):
            try:
                p = parse_value(row.get("value", ""))
                when = (row.get("expires") or "").strip()
                never = when.lower() == "never"
                if never and action == "allow":
                    raise InvalidValue("expiry", when, "allow entries always expire")
                expiry = parse_expiry(
                    expires=None if never or not when else when,
                    no_expiration=never,
                    default_days=default,
                    max_days=max_days,
                )
            except InvalidValue as e:
                raise InvalidValue(e.what, e.value, f"{e.why} (row {i})")
            if p.value in seen:
                raise InvalidValue("list value", p.value, f"given twice (row {i})")
            seen.add(p.value)
            items.append((p, expiry, (row.get("notes") or "").strip()))
        if not items:
            raise InvalidValue("list value", "", "give at least one value")
        return self._insert(tenant, items, action)

    def _insert(self, tenant: str, items: list[tuple[Any, Any, str]], action: str) -> list[dict[str, Any]]:
        """Write validated entries in one transaction: conflicts and the quota are checked first."""
        seen = {p.value for p, _, _ in items}
        parsed = [p for p, _, _ in items]
        now = utcnow()
        with self.session() as s:
            t = self.tenant(s, tenant)
            existing = {
                e.value: e
                for e in s.scalars(
                    select(TablEntry).where(
                        TablEntry.tenant_id == t.id, TablEntry.action == action, TablEntry.value.in_(seen)
                    )
                )
            }
            for p in parsed:
                e = existing.get(p.value)
                if e is not None and (e.expires_at is None or e.expires_at > now):
                    raise Conflict(f"{p.value!r} is already on the {action} list of tenant {t.name!r}")
            if action == "block":
                active = s.scalar(
                    select(func.count())
                    .select_from(TablEntry)
                    .where(
                        TablEntry.tenant_id == t.id,
                        TablEntry.action == "block",
                        (TablEntry.expires_at.is_(None)) | (TablEntry.expires_at > now),
                    )
                )
                quota = self.quota(t.limits)
                if active + len(parsed) > quota:
                    raise QuotaExceeded(
                        f"tenant {t.name!r} would have {active + len(parsed)} block entries; "
                        f"the quota is {quota}"
                    )
            for e in existing.values():  # expired twins are replaced
                s.delete(e)
            s.flush()
            entries = [
                TablEntry(
                    tenant_id=t.id,
                    value=p.value,
                    kind=p.kind,
                    action=action,
                    expires_at=expiry,
                    notes=notes,
                    created_at=now,
                    created_by=self.actor.name,
                    modified_at=now,
                    modified_by=self.actor.name,
                )
                for p, expiry, notes in items
            ]
            s.add_all(entries)
            s.flush()
            views = [entry_view(e) for e in entries]
            for v in views:
                self.audit(s, f"tabl.{action}.add", tenant=t, target=v["value"], after=v)
            self.changed(s, t)
            return views

    def list(
        self, tenant: str, *, action: str | None = None, include_expired: bool = False
    ) -> list[dict[str, Any]]:
        with self.session() as s:
            t = self.tenant(s, tenant)
            q = select(TablEntry).where(TablEntry.tenant_id == t.id)
            if action:
                q = q.where(TablEntry.action == action)
            if not include_expired:
                q = q.where(TablEntry.expires_at.is_(None) | (TablEntry.expires_at > utcnow()))
            return [entry_view(e) for e in s.scalars(q.order_by(TablEntry.action, TablEntry.value))]

    def _entries(self, s: Any, tenant_id: int, values: list[str], action: str) -> list[TablEntry]:
        parsed = [parse_value(v).value for v in values]
        found = {
            e.value: e
            for e in s.scalars(
                select(TablEntry).where(
                    TablEntry.tenant_id == tenant_id, TablEntry.action == action, TablEntry.value.in_(parsed)
                )
            )
        }
        missing = [v for v in parsed if v not in found]
        if missing:
            raise NotFound(f"not on the {action} list: {', '.join(missing)}")
        return [found[v] for v in parsed]

    def update(
        self,
        tenant: str,
        values: list[str],
        *,
        action: str = "block",
        days: int | None = None,
        expires: str | date | None = None,
        no_expiration: bool = False,
        notes: str | None = None,
    ) -> list[dict[str, Any]]:
        """Change expiry and/or notes; the value itself is immutable (remove and add to change it)."""
        touch_expiry = days is not None or expires is not None or no_expiration
        if not touch_expiry and notes is None:
            raise InvalidValue(
                "change", "", "give a new expiry (--days, --expires, --no-expiration) or --notes"
            )
        max_days = MAX_BLOCK_DAYS if action == "block" else MAX_ALLOW_DAYS
        expiry = (
            parse_expiry(days=days, expires=expires, no_expiration=no_expiration, max_days=max_days)
            if touch_expiry
            else None
        )
        with self.session() as s:
            t = self.tenant(s, tenant)
            out = []
            for e in self._entries(s, t.id, values, action):
                before = entry_view(e)
                if touch_expiry:
                    e.expires_at = expiry
                if notes is not None:
                    e.notes = notes.strip()
                e.modified_at, e.modified_by = utcnow(), self.actor.name
                after = entry_view(e)
                self.audit(s, f"tabl.{action}.update", tenant=t, target=e.value, before=before, after=after)
                out.append(after)
            self.changed(s, t)
            return out

    def remove(self, tenant: str, values: list[str], *, action: str = "block") -> None:
        with self.session() as s:
            t = self.tenant(s, tenant)
            for e in self._entries(s, t.id, values, action):
                self.audit(s, f"tabl.{action}.remove", tenant=t, target=e.value, before=entry_view(e))
                s.delete(e)
            self.changed(s, t)
