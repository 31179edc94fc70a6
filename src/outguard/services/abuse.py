"""Abuse administration: restricted senders (5.1.8), delisting requests (5.7.705), alerts.

The protections themselves run in the engine; this is the audited way back that operators and
tenant admins use, shared by the CLI and the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from outguard.errors import Conflict, InvalidValue, NotFound
from outguard.model import Alert, DelistingRequest, RestrictedSender, Tenant
from outguard.services.base import ServiceBase, require_reason
from outguard.tabl import normalise_address
from outguard.util import isoformat, utcnow


def restricted_view(r: RestrictedSender) -> dict[str, Any]:
    now = utcnow()
    active = r.released_at is None and (r.until is None or r.until > now) and r.action != "alert-only"
    return {
        "id": r.id,
        "address": r.address,
        "limit": r.limit_name,
        "count": r.count,
        "threshold": r.threshold,
        "action": r.action,
        "restricted_at": isoformat(r.restricted_at),
        "until": isoformat(r.until),
        "active": active,
        "released_at": isoformat(r.released_at),
        "released_by": r.released_by,
        "release_reason": r.release_reason,
    }


def delisting_view(d: DelistingRequest, tenant: str) -> dict[str, Any]:
    return {
        "id": d.id,
        "tenant": tenant,
        "code": d.code,
        "explanation": d.explanation,
        "status": d.status,
        "created_at": isoformat(d.created_at),
        "created_by": d.created_by,
        "handled_at": isoformat(d.handled_at),
        "handled_by": d.handled_by,
        "response": d.response,
    }


def alert_view(a: Alert, tenant: str | None) -> dict[str, Any]:
    return {
        "id": a.id,
        "at": isoformat(a.at),
        "tenant": tenant,
        "kind": a.kind,
        "severity": a.severity,
        "message": a.message,
        "details": a.details,
    }


class RestrictedService(ServiceBase):
    """Senders over their outbound limits. The engine restricts; tenant admins release."""

    def restrict(
        self,
        tenant: str,
        address: str,
        *,
        limit: str,
        count: int,
        threshold: int,
        action: str,
        until: datetime | None,
    ) -> dict[str, Any]:
        """Restrict a sender; idempotent while a restriction of it is active (nodes may race to it)."""
        self.require_operator("restrict senders")  # the engine acts as a system operator
        with self.session() as s:
            t = self.tenant(s, tenant)
            for existing in s.scalars(
                select(RestrictedSender).where(
                    RestrictedSender.tenant_id == t.id,
                    RestrictedSender.address == address.lower(),
                    RestrictedSender.released_at.is_(None),
                )
            ):
                if restricted_view(existing)["active"]:
                    return restricted_view(existing)
            r = RestrictedSender(
                tenant_id=t.id,
                address=address.lower(),
                limit_name=limit,
                count=count,
                threshold=threshold,
                action=action,
                restricted_at=utcnow(),
                until=until,
            )
            s.add(r)
            s.flush()
            view = restricted_view(r)
            self.audit(s, "sender.restrict", tenant=t, target=r.address, after=view)
            self.changed(s, t)
            return view

    def list(self, tenant: str, *, include_released: bool = False) -> list[dict[str, Any]]:
        with self.session() as s:
            t = self.tenant(s, tenant)
            q = select(RestrictedSender).where(RestrictedSender.tenant_id == t.id)
            rows = [restricted_view(r) for r in s.scalars(q.order_by(RestrictedSender.id.desc()))]
            return rows if include_released else [r for r in rows if r["active"]]

    def release(self, tenant: str, address: str, *, reason: str = "") -> list[dict[str, Any]]:
        """Lift every active restriction of `address` (a tenant admin may do this for its own senders)."""
        addr = normalise_address(address)
        with self.session() as s:
            t = self.tenant(s, tenant)
            rows = [
                r
                for r in s.scalars(
                    select(RestrictedSender).where(
                        RestrictedSender.tenant_id == t.id,
                        RestrictedSender.address == addr,
                        RestrictedSender.released_at.is_(None),
                    )
                )
                if restricted_view(r)["active"]
            ]
            if not rows:
                raise NotFound(f"{addr!r} is not restricted in tenant {t.name!r}")
            out = []
            for r in rows:
                before = restricted_view(r)
                r.released_at, r.released_by, r.release_reason = (
                    utcnow(),
                    self.actor.name,
                    reason.strip() or None,
                )
                after = restricted_view(r)
                self.audit(
                    s,
                    "sender.release",
                    tenant=t,
                    target=addr,
                    before=before,
                    after=after,
                    reason=reason.strip() or None,
                )
                out.append(after)
            self.changed(s, t)
            return out


class DelistingService(ServiceBase):
    """A blocked tenant's request to be let out, and the operator's decision on it."""

    def file(self, tenant: str, *, explanation: str) -> dict[str, Any]:
        text = require_reason(explanation, what="a delisting request")
        with self.session() as s:
            t = self.tenant(s, tenant)
            if t.status != "blocked":
                raise Conflict(f"tenant {t.name!r} is not blocked; there is nothing to delist")
            if s.scalar(
                select(DelistingRequest.id).where(
                    DelistingRequest.tenant_id == t.id, DelistingRequest.status == "open"
                )
            ):
                raise Conflict(f"tenant {t.name!r} already has an open delisting request")
            d = DelistingRequest(
                tenant_id=t.id,
                code=t.block_code or "",
                explanation=text,
                status="open",
                created_at=utcnow(),
                created_by=self.actor.name,
            )
            s.add(d)
            s.flush()
            view = delisting_view(d, t.name)
            self.audit(s, "delisting.file", tenant=t, target=str(d.id), after=view, reason=text)
            return view

    def list(self, *, tenant: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(DelistingRequest, Tenant.name).join(Tenant, Tenant.id == DelistingRequest.tenant_id)
            if tenant:
                q = q.where(DelistingRequest.tenant_id == self.tenant(s, tenant).id)
            if status:
                q = q.where(DelistingRequest.status == status)
            return [delisting_view(d, name) for d, name in s.execute(q.order_by(DelistingRequest.id.desc()))]

    def decide(self, request_id: int, *, accept: bool, response: str) -> dict[str, Any]:
        """Accept (which unblocks the tenant, with `response` as the audited reason) or reject."""
        self.require_operator("decide delisting requests")
        text = require_reason(response, what="deciding a delisting request")
        from outguard.services.tenants import TenantService

        with self.session() as s:
            d = s.get(DelistingRequest, request_id)
            if d is None:
                raise NotFound(f"no delisting request {request_id}")
            if d.status != "open":
                raise Conflict(f"delisting request {request_id} is already {d.status}")
            t = s.get(Tenant, d.tenant_id)
            assert t is not None
            name = t.name
        if accept:
            TenantService(self.db, self.settings, self.actor).unblock(name, reason=text)
        with self.session() as s:
            d = s.get(DelistingRequest, request_id)
            assert d is not None
            d.status, d.handled_at, d.handled_by, d.response = (
                "accepted" if accept else "rejected",
                utcnow(),
                self.actor.name,
                text,
            )
            t = s.get(Tenant, d.tenant_id)
            view = delisting_view(d, name)
            self.audit(s, f"delisting.{d.status}", tenant=t, target=str(d.id), after=view, reason=text)
            return view


class AlertService(ServiceBase):
    def raise_alert(
        self,
        tenant: str | None,
        kind: str,
        message: str,
        *,
        severity: str = "high",
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if severity not in ("medium", "high"):
            raise InvalidValue("severity", severity, "expected medium or high")
        with self.session() as s:
            t = self.tenant(s, tenant) if tenant else None
            a = Alert(
                tenant_id=t.id if t else None,
                at=utcnow(),
                kind=kind,
                severity=severity,
                message=message,
                details=details or {},
            )
            s.add(a)
            s.flush()
            return alert_view(a, t.name if t else None)

    def list(
        self, *, tenant: str | None = None, since: datetime | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        with self.session() as s:
            q = select(Alert, Tenant.name).outerjoin(Tenant, Tenant.id == Alert.tenant_id)
            if tenant:
                q = q.where(Alert.tenant_id == self.tenant(s, tenant).id)
            if since:
                q = q.where(Alert.at >= since)
            return [alert_view(a, name) for a, name in s.execute(q.order_by(Alert.id.desc()).limit(limit))]
