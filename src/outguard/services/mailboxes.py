"""Mailboxes: SMTP AUTH logins of a tenant, with argon2-hashed passwords."""

from __future__ import annotations

from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select

from outguard.errors import Conflict, InvalidValue, NotFound
from outguard.model import AcceptedDomain, Mailbox
from outguard.services.base import ServiceBase
from outguard.tabl import normalise_address
from outguard.util import isoformat, utcnow

MIN_PASSWORD = 10
hasher = PasswordHasher()


def mailbox_view(m: Mailbox) -> dict[str, Any]:
    return {"address": m.address, "enabled": m.enabled, "created_at": isoformat(m.created_at)}


class MailboxService(ServiceBase):
    def add(self, tenant: str, address: str, password: str) -> dict[str, Any]:
        addr = normalise_address(address)
        if len(password) < MIN_PASSWORD:
            raise InvalidValue("password", "(hidden)", f"must be at least {MIN_PASSWORD} characters")
        with self.global_session() as g:
            if g.scalar(select(Mailbox.id).where(Mailbox.address == addr)) is not None:
                raise Conflict(f"mailbox {addr!r} already exists")
        with self.session() as s:
            t = self.tenant(s, tenant)
            domain = addr.rsplit("@", 1)[1]
            if (
                s.scalar(
                    select(AcceptedDomain.id).where(
                        AcceptedDomain.tenant_id == t.id, AcceptedDomain.domain == domain
                    )
                )
                is None
            ):
                raise InvalidValue(
                    "address", address, f"{domain!r} is not an accepted domain of tenant {t.name!r}"
                )
            m = Mailbox(
                tenant_id=t.id,
                address=addr,
                password_hash=hasher.hash(password),
                enabled=True,
                created_at=utcnow(),
                created_by=self.actor.name,
            )
            s.add(m)
            s.flush()
            view = mailbox_view(m)
            self.audit(s, "mailbox.add", tenant=t, target=addr, after=view)
            self.changed(s, t)
            return view

    def list(self, tenant: str) -> list[dict[str, Any]]:
        with self.session() as s:
            t = self.tenant(s, tenant)
            return [
                mailbox_view(m)
                for m in s.scalars(select(Mailbox).where(Mailbox.tenant_id == t.id).order_by(Mailbox.address))
            ]

    def _get(self, s: Any, tenant: str, address: str) -> tuple[Any, Mailbox]:
        t = self.tenant(s, tenant)
        addr = normalise_address(address)
        m = s.scalar(select(Mailbox).where(Mailbox.tenant_id == t.id, Mailbox.address == addr))
        if m is None:
            raise NotFound(f"tenant {t.name!r} has no mailbox {addr!r}")
        return t, m

    def set_password(self, tenant: str, address: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise InvalidValue("password", "(hidden)", f"must be at least {MIN_PASSWORD} characters")
        with self.session() as s:
            t, m = self._get(s, tenant, address)
            m.password_hash = hasher.hash(password)
            self.audit(s, "mailbox.password", tenant=t, target=m.address)
            self.changed(s, t)

    def remove(self, tenant: str, address: str) -> None:
        with self.session() as s:
            t, m = self._get(s, tenant, address)
            before = mailbox_view(m)
            s.delete(m)
            self.audit(s, "mailbox.remove", tenant=t, target=m.address, before=before)
            self.changed(s, t)
