"""Connectors: how a tenant's own servers are recognised — by IPv4 range or by TLS certificate domain."""

from __future__ import annotations

import itertools
import re
from typing import Any

from sqlalchemy import select

from outguard.errors import Conflict, InvalidValue, NotFound
from outguard.model import AcceptedDomain, Connector, ConnectorRange
from outguard.services.base import ServiceBase, parse_cidr
from outguard.tabl import normalise_domain
from outguard.util import isoformat, utcnow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
# Ranges wider than this would let a whole provider's customers relay as one tenant.
MIN_PREFIX = 16


def connector_view(c: Connector) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "ips": [r.cidr for r in c.ranges],
        "cert_domain": c.cert_domain,
        "enabled": c.enabled,
        "created_at": isoformat(c.created_at),
        "created_by": c.created_by,
    }


class ConnectorService(ServiceBase):
    def add(
        self, tenant: str, name: str, *, ips: list[str] | None = None, cert_domain: str | None = None
    ) -> dict[str, Any]:
        label = name.strip()
        if not _NAME.match(label):
            raise InvalidValue("connector name", name, "use 1-64 letters, digits, spaces, '.', '_' or '-'")
        if bool(ips) == bool(cert_domain):
            raise InvalidValue(
                "connector", label, "give either --ip CIDR (one or more) or --cert-domain DOMAIN"
            )
        nets = sorted({parse_cidr(ip, min_prefix=MIN_PREFIX) for ip in ips or []})
        for a, b in itertools.pairwise(nets):
            if a.overlaps(b):
                raise InvalidValue("CIDR", str(b), f"overlaps {a} in the same command")
        cert = self._cert_domain(cert_domain) if cert_domain else None

        with self.global_session() as g:  # attribution must stay unambiguous across all tenants
            for net in nets:
                first, last = int(net.network_address), int(net.broadcast_address)
                clash = g.execute(
                    select(ConnectorRange.cidr, ConnectorRange.tenant_id, Connector.name)
                    .join(Connector)
                    .where(ConnectorRange.first <= last, ConnectorRange.last >= first)
                ).first()
                if clash:
                    raise Conflict(self._clash_message(str(net), clash))
            if cert and g.scalar(select(Connector.id).where(Connector.cert_domain == cert)):
                raise Conflict(f"certificate domain {cert!r} is already used by a connector")

        with self.session() as s:
            t = self.tenant(s, tenant)
            if s.scalar(select(Connector.id).where(Connector.tenant_id == t.id, Connector.name == label)):
                raise Conflict(f"tenant {t.name!r} already has a connector named {label!r}")
            if cert:
                self._check_cert_domain(s, t.id, t.name, cert)
            c = Connector(
                tenant_id=t.id,
                name=label,
                kind="certificate" if cert else "ip",
                cert_domain=cert,
                enabled=True,
                created_at=utcnow(),
                created_by=self.actor.name,
            )
            c.ranges = [
                ConnectorRange(
                    tenant_id=t.id, cidr=str(n), first=int(n.network_address), last=int(n.broadcast_address)
                )
                for n in nets
            ]
            s.add(c)
            s.flush()
            view = connector_view(c)
            self.audit(s, "connector.add", tenant=t, target=label, after=view)
            self.changed(s, t)
            return view

    def _clash_message(self, net: str, clash: Any) -> str:
        cidr, owner, cname = clash
        if self.actor.tenant_id is not None and owner != self.actor.tenant_id:
            return f"IP range {net} overlaps a range of another tenant's connector: attribution would be ambiguous"
        return f"IP range {net} overlaps {cidr} of connector {cname!r}: attribution would be ambiguous"

    @staticmethod
    def _cert_domain(value: str) -> str:
        raw = value.strip()
        if raw.startswith("*."):
            return "*." + normalise_domain(raw[2:], what="certificate domain")
        return normalise_domain(raw, what="certificate domain")

    @staticmethod
    def _check_cert_domain(s: Any, tenant_id: int, tenant_name: str, cert: str) -> None:
        """The certificate domain must be a verified accepted domain of the tenant, or directly under one."""
        bare = cert[2:] if cert.startswith("*.") else cert
        candidates = {bare, bare.split(".", 1)[1] if "." in bare else bare}
        if cert.startswith("*."):
            candidates = {bare}
        rows = s.execute(
            select(AcceptedDomain.domain, AcceptedDomain.verified_at).where(
                AcceptedDomain.tenant_id == tenant_id, AcceptedDomain.domain.in_(candidates)
            )
        ).all()
        if not rows:
            raise InvalidValue(
                "certificate domain",
                cert,
                f"must be an accepted domain of tenant {tenant_name!r} or directly under one",
            )
        if not any(verified for _, verified in rows):
            raise InvalidValue(
                "certificate domain",
                cert,
                f"accepted domain {rows[0][0]!r} is not verified yet (outguard domain verify)",
            )

    def list(self, tenant: str) -> list[dict[str, Any]]:
        with self.session() as s:
            t = self.tenant(s, tenant)
            return [
                connector_view(c)
                for c in s.scalars(
                    select(Connector).where(Connector.tenant_id == t.id).order_by(Connector.name)
                )
            ]

    def remove(self, tenant: str, name: str) -> None:
        with self.session() as s:
            t = self.tenant(s, tenant)
            c = s.scalar(select(Connector).where(Connector.tenant_id == t.id, Connector.name == name.strip()))
            if c is None:
                raise NotFound(f"tenant {t.name!r} has no connector named {name!r}")
            before = connector_view(c)
            s.delete(c)
            self.audit(s, "connector.remove", tenant=t, target=c.name, before=before)
            self.changed(s, t)
