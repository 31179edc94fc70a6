"""Tenants: create, inspect, license, block and unblock (the last two operator-only, with a reason)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from outguard import codes
from outguard.errors import Conflict, InvalidValue
from outguard.model import AcceptedDomain, Connector, Mailbox, TablEntry, Tenant
from outguard.services.base import ServiceBase, parse_date, require_reason
from outguard.tabl import normalise_address
from outguard.util import isoformat, utcnow

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
TABL_MODES = ("whole-message", "per-recipient")


def _count(minimum: int) -> Any:
    def parse(v: Any) -> int:
        n = int(v)
        if n < minimum:
            raise ValueError(f"must be at least {minimum}")
        return n

    return parse


def _ratio(v: Any) -> float:
    x = float(v)
    if not 0 < x <= 1:
        raise ValueError("must be a share between 0 and 1, e.g. 0.3")
    return x


def _choice(*options: str) -> Any:
    def parse(v: Any) -> str:
        if v not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return str(v)

    return parse


# Settings a tenant may override (operators set them; tenants see them as their published limits).
TENANT_LIMITS: dict[str, Any] = {
    "unregistered_allowance": _count(0),
    "spam_min_messages": _count(1),
    "spam_ratio": _ratio,
    "external_per_hour": _count(0),
    "internal_per_hour": _count(0),
    "per_day": _count(0),
    "restricted_action": _choice("block-until-tomorrow", "block-until-released", "alert-only"),
    "spam_action": _choice("high-risk", "reject"),
    "tabl_quota": _count(1),
}


def parse_limits(values: dict[str, Any]) -> dict[str, Any]:
    """Validate overrides; the value "default" (or None) removes an override."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in TENANT_LIMITS:
            raise InvalidValue("limit", key, f"unknown; expected one of {', '.join(TENANT_LIMITS)}")
        if value is None or value == "default":
            out[key] = None
            continue
        try:
            out[key] = TENANT_LIMITS[key](value)
        except (TypeError, ValueError) as e:
            raise InvalidValue(f"value for limit {key}", value, str(e))
    return out


def tenant_view(t: Tenant) -> dict[str, Any]:
    block = None
    status = t.status
    if t.status == "blocked":
        block = {
            "code": t.block_code,
            "reason": t.block_reason,
            "since": isoformat(t.blocked_since),
            "by": t.blocked_by,
            "evidence": t.block_evidence,
        }
    elif t.subscription_expires is not None and t.subscription_expires < datetime.now(UTC).date():
        # A lapsed subscription blocks like 5.7.705 until renewed; derived, so renewal lifts it at once.
        lapsed_at = datetime.combine(t.subscription_expires + timedelta(days=1), time(0), UTC)
        status = "blocked"
        block = {
            "code": codes.TENANT_THRESHOLD.enhanced,
            "reason": f"subscription expired on {t.subscription_expires}",
            "since": isoformat(lapsed_at),
            "by": "subscription",
            "evidence": None,
        }
    return {
        "name": t.name,
        "licensed": t.licensed,
        "status": status,
        "block": block,
        "subscription_expires": t.subscription_expires.isoformat() if t.subscription_expires else None,
        "tabl_mode": t.tabl_mode,
        "alert_address": t.alert_address,
        "limits": t.limits or {},
        "created_at": isoformat(t.created_at),
    }


class TenantService(ServiceBase):
    def add(
        self, name: str, *, trial: bool = False, subscription_expires: str | date | None = None
    ) -> dict[str, Any]:
        self.require_operator("create tenants")
        clean = name.strip().lower()
        if not _NAME.match(clean):
            raise InvalidValue(
                "tenant name",
                name,
                "use 1-63 characters: a-z, 0-9, '.', '_' or '-', starting with a letter or digit",
            )
        expires = parse_date(subscription_expires, what="subscription expiry")
        with self.session() as s:
            if s.scalar(select(Tenant.id).where(Tenant.name == clean)) is not None:
                raise Conflict(f"tenant {clean!r} already exists")
            t = Tenant(
                name=clean,
                licensed=not trial,
                subscription_expires=expires,
                status="active",
                tabl_mode="whole-message",
                limits={},
                config_serial=1,
                created_at=utcnow(),
                created_by=self.actor.name,
            )
            s.add(t)
            try:
                s.flush()
            except IntegrityError:
                raise Conflict(f"tenant {clean!r} already exists")
            view = tenant_view(t)
            self.audit(s, "tenant.add", tenant=t, target=clean, after=view)
        return view

    def list(self) -> list[dict[str, Any]]:
        with self.session() as s:
            return [tenant_view(t) for t in s.scalars(select(Tenant).order_by(Tenant.name))]

    def show(self, name: str) -> dict[str, Any]:
        with self.session() as s:
            t = self.tenant(s, name)
            view = tenant_view(t)
            counts = {}
            for label, model in (
                ("accepted_domains", AcceptedDomain),
                ("connectors", Connector),
                ("mailboxes", Mailbox),
            ):
                counts[label] = s.scalar(
                    select(func.count()).select_from(model).where(model.tenant_id == t.id)
                )
            counts["block_entries"] = s.scalar(
                select(func.count())
                .select_from(TablEntry)
                .where(TablEntry.tenant_id == t.id, TablEntry.action == "block")
            )
            view["counts"] = counts
            if view["block"] and (c := codes.lookup(view["block"]["code"])):
                view["block"]["text"] = c.reply_text()
                view["block"]["admin_fix"] = c.admin_fix
            return view

    def set(
        self,
        name: str,
        *,
        licensed: bool | None = None,
        subscription_expires: str | date | None = None,
        clear_subscription: bool = False,
        tabl_mode: str | None = None,
        alert_address: str | None = None,
        limits: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if (
            licensed is not None
            or subscription_expires is not None
            or clear_subscription
            or limits is not None
        ):
            self.require_operator("change licensing, subscription or limits")
        if tabl_mode is not None and tabl_mode not in TABL_MODES:
            raise InvalidValue("allow/block list mode", tabl_mode, f"expected one of {', '.join(TABL_MODES)}")
        expires = parse_date(subscription_expires, what="subscription expiry")
        alert = normalise_address(alert_address, what="alert address") if alert_address else None
        overrides = parse_limits(limits) if limits is not None else None
        with self.session() as s:
            t = self.tenant(s, name)
            before = tenant_view(t)
            if licensed is not None:
                t.licensed = licensed
            if expires is not None:
                t.subscription_expires = expires
            if clear_subscription:
                t.subscription_expires = None
            if tabl_mode is not None:
                t.tabl_mode = tabl_mode
            if alert_address is not None:
                t.alert_address = alert or None
            if overrides is not None:
                merged = {**(t.limits or {}), **overrides}
                t.limits = {k: v for k, v in merged.items() if v is not None}
            after = tenant_view(t)
            if after != before:
                self.audit(s, "tenant.set", tenant=t, target=t.name, before=before, after=after)
                self.changed(s, t)
            return after

    def block(
        self,
        name: str,
        *,
        reason: str,
        code: str = codes.TENANT_THRESHOLD.enhanced,
        evidence: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Refuse all of the tenant's outbound mail with `code` (5.7.705 unless given)."""
        self.require_operator("block a tenant")
        text = require_reason(reason, what="blocking a tenant")
        if codes.lookup(code) is None or not codes.lookup(code).outguard:  # type: ignore[union-attr]
            raise InvalidValue("block code", code, "not a code Outguard blocks tenants with")
        with self.session() as s:
            t = self.tenant(s, name)
            if t.status == "blocked":
                raise Conflict(f"tenant {t.name!r} is already blocked ({t.block_code}: {t.block_reason})")
            before = tenant_view(t)
            t.status, t.block_code, t.block_reason = "blocked", code, text
            t.blocked_since, t.blocked_by, t.block_evidence = utcnow(), self.actor.name, evidence
            after = tenant_view(t)
            self.audit(s, "tenant.block", tenant=t, target=t.name, before=before, after=after, reason=text)
            self.changed(s, t)
            return after

    def unblock(self, name: str, *, reason: str) -> dict[str, Any]:
        """Lift a block. Operator only, and only with a written reason (cause and remedy)."""
        self.require_operator("unblock a tenant")
        text = require_reason(reason, what="unblocking a tenant")
        with self.session() as s:
            t = self.tenant(s, name)
            if t.status != "blocked":
                if tenant_view(t)["status"] == "blocked":
                    raise Conflict(
                        f"tenant {t.name!r} is blocked because its subscription expired on "
                        f"{t.subscription_expires}: renew it (tenant set --subscription-expires)"
                    )
                raise Conflict(f"tenant {t.name!r} is not blocked")
            before = tenant_view(t)
            t.status, t.block_code, t.block_reason = "active", None, None
            t.blocked_since, t.blocked_by, t.block_evidence = None, None, None
            after = tenant_view(t)
            self.audit(s, "tenant.unblock", tenant=t, target=t.name, before=before, after=after, reason=text)
            self.changed(s, t)
            return after
