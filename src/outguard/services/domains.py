"""Accepted domains: add (with a DNS TXT verification token), verify through DNS, attest, remove."""

from __future__ import annotations

import secrets
from typing import Any

import dns.exception
import dns.resolver
from sqlalchemy import select

from outguard.dns import resolver
from outguard.errors import Conflict, InvalidValue, LookupFailed, NotFound
from outguard.model import AcceptedDomain, Connector, Mailbox, Tenant
from outguard.services.base import ServiceBase
from outguard.tabl import normalise_domain
from outguard.util import isoformat, utcnow

TXT_PREFIX = "outguard-verification="


def domain_view(d: AcceptedDomain) -> dict[str, Any]:
    return {
        "domain": d.domain,
        "verified": d.verified_at is not None,
        "verified_at": isoformat(d.verified_at),
        "verified_by": d.verified_by,
        "txt_record": f'{d.domain}. IN TXT "{TXT_PREFIX}{d.verification_token}"',
        "created_at": isoformat(d.created_at),
    }


class DomainService(ServiceBase):
    def add(self, tenant: str, domain: str, *, verified: bool = False) -> dict[str, Any]:
        if verified:
            self.require_operator("attest a domain as verified")
        name = normalise_domain(domain)
        if "." not in name:
            raise InvalidValue("domain", domain, "needs at least one dot")
        with self.global_session() as g:
            if g.scalar(select(AcceptedDomain.id).where(AcceptedDomain.domain == name)) is not None:
                raise Conflict(f"domain {name!r} is already an accepted domain (of this or another tenant)")
        with self.session() as s:
            t = self.tenant(s, tenant)
            d = AcceptedDomain(
                tenant_id=t.id,
                domain=name,
                verification_token=secrets.token_hex(16),
                created_at=utcnow(),
                created_by=self.actor.name,
            )
            if verified:
                d.verified_at, d.verified_by = utcnow(), f"attested by {self.actor.name}"
            s.add(d)
            s.flush()
            view = domain_view(d)
            self.audit(s, "domain.attest" if verified else "domain.add", tenant=t, target=name, after=view)
            self.changed(s, t)
            return view

    def list(self, tenant: str) -> list[dict[str, Any]]:
        with self.session() as s:
            t = self.tenant(s, tenant)
            rows = s.scalars(
                select(AcceptedDomain).where(AcceptedDomain.tenant_id == t.id).order_by(AcceptedDomain.domain)
            )
            return [domain_view(d) for d in rows]

    def _get(self, s: Any, t: Tenant, domain: str) -> AcceptedDomain:
        name = normalise_domain(domain)
        d = s.scalar(
            select(AcceptedDomain).where(AcceptedDomain.tenant_id == t.id, AcceptedDomain.domain == name)
        )
        if d is None:
            raise NotFound(f"{name!r} is not an accepted domain of tenant {t.name!r}")
        return d

    def verify(self, tenant: str, domain: str) -> dict[str, Any]:
        """Look for `outguard-verification=<token>` in the domain's TXT records."""
        with self.session() as s:
            t = self.tenant(s, tenant)
            d = self._get(s, t, domain)
            if d.verified_at is not None:
                return domain_view(d)
            expected = TXT_PREFIX + d.verification_token
            found = self._txt_records(d.domain)
            if expected not in found:
                seen = "; ".join(sorted(v for v in found if v.startswith(TXT_PREFIX))) or "none"
                raise NotFound(
                    f'verification record not found for {d.domain!r}: publish TXT "{expected}" '
                    f"at {d.domain} (outguard-verification records seen: {seen})"
                )
            before = domain_view(d)
            d.verified_at, d.verified_by = utcnow(), "dns"
            view = domain_view(d)
            self.audit(s, "domain.verify", tenant=t, target=d.domain, before=before, after=view)
            self.changed(s, t)
            return view

    def _txt_records(self, name: str) -> set[str]:
        try:
            answer = resolver(self.settings.dns).resolve(name, "TXT")
        except dns.resolver.NXDOMAIN:
            raise NotFound(f"domain {name!r} does not exist in DNS")
        except dns.resolver.NoAnswer:
            return set()
        except (dns.exception.Timeout, dns.resolver.LifetimeTimeout):
            raise LookupFailed(f"DNS lookup of TXT records for {name!r} timed out")
        except dns.resolver.NoNameservers as e:
            raise LookupFailed(f"DNS lookup of TXT records for {name!r} failed: {e}")
        # A TXT record is a list of strings that together form one value (RFC 7208 §3.3).
        return {b"".join(r.strings).decode("utf-8", "replace") for r in answer}

    def remove(self, tenant: str, domain: str) -> None:
        with self.session() as s:
            t = self.tenant(s, tenant)
            d = self._get(s, t, domain)
            users = s.scalar(
                select(Mailbox.address).where(
                    Mailbox.tenant_id == t.id, Mailbox.address.like(f"%@{d.domain}")
                )
            )
            if users:
                raise Conflict(f"domain {d.domain!r} still has mailboxes (e.g. {users}); remove them first")
            cert = s.scalar(
                select(Connector.name).where(
                    Connector.tenant_id == t.id,
                    Connector.cert_domain.in_([d.domain, f"*.{d.domain}"])
                    | Connector.cert_domain.like(f"%.{d.domain}"),
                )
            )
            if cert:
                raise Conflict(
                    f"domain {d.domain!r} is used by certificate connector {cert!r}; remove it first"
                )
            before = domain_view(d)
            s.delete(d)
            self.audit(s, "domain.remove", tenant=t, target=d.domain, before=before)
            self.changed(s, t)
