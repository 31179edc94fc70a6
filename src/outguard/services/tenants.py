"""Tenants: create, inspect, license, block and unblock (the last two operator-only, with a reason)."""

from __future__ import annotations

import re
from datetime import date
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


def tenant_view(t: Tenant) -> dict[str, Any]:
    block = None
    if t.status == "blocked":
        block = {
            "code": t.block_code,
            "reason": t.block_reason,
            "since": isoformat(t.blocked_since),
            "by": t.blocked_by,
            "evidence": t.block_evidence,
        }
    return {
        "name": t.name,
        "licensed": t.licensed,
        "status": t.status,
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
            if t.status == "blocked" and (c := codes.lookup(t.block_code)):
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
            if limits is not None:
                t.limits = {**(t.limits or {}), **limits}
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
                raise Conflict(f"tenant {t.name!r} is not blocked")
            before = tenant_view(t)
            t.status, t.block_code, t.block_reason = "active", None, None
            t.blocked_since, t.blocked_by, t.block_evidence = None, None, None
            after = tenant_view(t)
            self.audit(s, "tenant.unblock", tenant=t, target=t.name, before=before, after=after, reason=text)
            self.changed(s, t)
            return after
