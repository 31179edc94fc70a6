"""The operator's low-reputation IP list and per-tenant IP exceptions (the two inputs of 5.7.708)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from outguard.errors import Conflict, NotFound
from outguard.model import IpException, LowReputationIp, Tenant
from outguard.services.base import ServiceBase, parse_cidr, parse_expiry, require_reason
from outguard.util import isoformat, utcnow


def low_rep_view(r: LowReputationIp) -> dict[str, Any]:
    return {
        "cidr": r.cidr,
        "reason": r.reason,
        "expires_at": isoformat(r.expires_at),
        "added_at": isoformat(r.added_at),
        "added_by": r.added_by,
    }


def exception_view(e: IpException) -> dict[str, Any]:
    return {
        "cidr": e.cidr,
        "reason": e.reason,
        "expires_at": isoformat(e.expires_at),
        "expired": e.expires_at is not None and e.expires_at <= utcnow(),
        "granted_at": isoformat(e.granted_at),
        "granted_by": e.granted_by,
    }


class ReputationService(ServiceBase):
    def add(self, cidr: str, *, reason: str, expires: str | date | None = None) -> dict[str, Any]:
        self.require_operator("change the low-reputation list")
        net = parse_cidr(cidr)
        text = require_reason(reason, what="listing an IP as low reputation")
        expiry = parse_expiry(expires=expires) if expires else None
        with self.session() as s:
            if s.scalar(select(LowReputationIp.id).where(LowReputationIp.cidr == str(net))):
                raise Conflict(f"{net} is already on the low-reputation list")
            r = LowReputationIp(
                cidr=str(net),
                first=int(net.network_address),
                last=int(net.broadcast_address),
                reason=text,
                expires_at=expiry,
                added_at=utcnow(),
                added_by=self.actor.name,
            )
            s.add(r)
            s.flush()
            view = low_rep_view(r)
            self.audit(s, "reputation.add", target=str(net), after=view, reason=text)
            self.changed(s)
            return view

    def list(self) -> list[dict[str, Any]]:
        self.require_operator("read the low-reputation list")
        with self.session() as s:
            return [
                low_rep_view(r) for r in s.scalars(select(LowReputationIp).order_by(LowReputationIp.first))
            ]

    def remove(self, cidr: str) -> None:
        self.require_operator("change the low-reputation list")
        net = parse_cidr(cidr)
        with self.session() as s:
            r = s.scalar(select(LowReputationIp).where(LowReputationIp.cidr == str(net)))
            if r is None:
                raise NotFound(f"{net} is not on the low-reputation list")
            self.audit(s, "reputation.remove", target=str(net), before=low_rep_view(r))
            s.delete(r)
            self.changed(s)


class IpExceptionService(ServiceBase):
    def add(
        self, tenant: str, cidr: str, *, reason: str, expires: str | date | None = None
    ) -> dict[str, Any]:
        self.require_operator("grant IP exceptions")
        net = parse_cidr(cidr)
        text = require_reason(reason, what="an IP exception")
        expiry = parse_expiry(expires=expires) if expires else None
        with self.session() as s:
            t = self.tenant(s, tenant)
            if s.scalar(
                select(IpException.id).where(IpException.tenant_id == t.id, IpException.cidr == str(net))
            ):
                raise Conflict(f"tenant {t.name!r} already has an IP exception for {net}")
            e = IpException(
                tenant_id=t.id,
                cidr=str(net),
                first=int(net.network_address),
                last=int(net.broadcast_address),
                reason=text,
                expires_at=expiry,
                granted_at=utcnow(),
                granted_by=self.actor.name,
            )
            s.add(e)
            s.flush()
            view = exception_view(e)
            self.audit(s, "ip-exception.add", tenant=t, target=str(net), after=view, reason=text)
            self.changed(s, t)
            return view

    def list(self, tenant: str) -> list[dict[str, Any]]:
        with self.session() as s:
            t = self.tenant(s, tenant)
            return [
                exception_view(e)
                for e in s.scalars(
                    select(IpException).where(IpException.tenant_id == t.id).order_by(IpException.first)
                )
            ]

    def list_all(self) -> list[dict[str, Any]]:
        """Every exception the actor may see (all tenants' for an operator), with its tenant."""
        with self.session() as s:
            rows = s.execute(
                select(IpException, Tenant.name)
                .join(Tenant, Tenant.id == IpException.tenant_id)
                .order_by(Tenant.name, IpException.first)
            )
            return [{"tenant": name, **exception_view(e)} for e, name in rows]

    def remove(self, tenant: str, cidr: str) -> None:
        self.require_operator("revoke IP exceptions")
        net = parse_cidr(cidr)
        with self.session() as s:
            t = self.tenant(s, tenant)
            e = s.scalar(
                select(IpException).where(IpException.tenant_id == t.id, IpException.cidr == str(net))
            )
            if e is None:
                raise NotFound(f"tenant {t.name!r} has no IP exception for {net}")
            self.audit(s, "ip-exception.remove", tenant=t, target=str(net), before=exception_view(e))
            s.delete(e)
            self.changed(s, t)
