"""API keys: random bearer tokens shown once, stored as SHA-256 (they carry 256 bits of entropy,
so a fast hash is as safe as a slow one and keeps every API request cheap)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import select

from outguard.errors import NotFound, Unauthorized
from outguard.model import ApiKey, Tenant
from outguard.services.base import Actor, ServiceBase
from outguard.util import isoformat, utcnow

KEY_PREFIX = "og_"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_view(k: ApiKey, tenant_name: str | None) -> dict[str, Any]:
    return {
        "id": k.id,
        "prefix": k.prefix,
        "role": k.role,
        "tenant": tenant_name,
        "label": k.label,
        "created_at": isoformat(k.created_at),
        "created_by": k.created_by,
        "last_used_at": isoformat(k.last_used_at),
        "revoked": k.revoked_at is not None,
    }


class ApiKeyService(ServiceBase):
    def create(self, *, operator: bool = False, tenant: str | None = None, label: str = "") -> dict[str, Any]:
        """Create a key; the returned `key` is the only time the secret is shown."""
        if operator == (tenant is not None):
            from outguard.errors import InvalidValue

            raise InvalidValue("key scope", "", "give either --operator or --tenant NAME")
        if operator:
            self.require_operator("create operator keys")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.session() as s:
            t = self.tenant(s, tenant) if tenant else None
            k = ApiKey(
                prefix=secret[:10],
                key_hash=_hash(secret),
                role="operator" if operator else "tenant",
                tenant_id=t.id if t else None,
                label=label.strip(),
                created_at=utcnow(),
                created_by=self.actor.name,
            )
            s.add(k)
            s.flush()
            view = key_view(k, t.name if t else None)
            self.audit(s, "apikey.create", tenant=t, target=k.prefix, after=view)
            return {**view, "key": secret}

    def list(self) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.execute(
                select(ApiKey, Tenant.name)
                .outerjoin(Tenant, Tenant.id == ApiKey.tenant_id)
                .order_by(ApiKey.id)
            ).all()
            return [key_view(k, name) for k, name in rows]

    def revoke(self, prefix: str) -> None:
        with self.session() as s:
            k = s.scalar(select(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None)))
            if k is None:
                raise NotFound(f"no active API key with prefix {prefix!r}")
            if k.role == "operator":
                self.require_operator("revoke operator keys")
            k.revoked_at = utcnow()
            t = s.get(Tenant, k.tenant_id) if k.tenant_id else None
            self.audit(s, "apikey.revoke", tenant=t, target=k.prefix)

    @staticmethod
    def fingerprint(k: ApiKey) -> str:
        """What a portal session keeps instead of the key: bound to the key's hash, useless without it."""
        return hashlib.sha256(b"outguard-session:" + k.key_hash.encode()).hexdigest()[:32]

    def open_session(self, key: str) -> dict[str, Any]:
        """Check a key typed into the portal's sign-in form; what the session cookie may hold."""
        actor = self.authenticate(key)
        with self.db.session() as s:
            k = s.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key)))
            assert k is not None
            t = s.get(Tenant, k.tenant_id) if k.tenant_id else None
            return {
                "key_id": k.id,
                "fingerprint": self.fingerprint(k),
                "prefix": k.prefix,
                "role": actor.role,
                "tenant": t.name if t else None,
            }

    def session_actor(self, key_id: int, fingerprint: str) -> Actor:
        """The actor of a portal session, as long as the key it was opened with is still valid."""
        with self.db.session() as s:
            k = s.get(ApiKey, key_id)
            if (
                k is None
                or k.revoked_at is not None
                or not secrets.compare_digest(self.fingerprint(k), fingerprint)
            ):
                raise Unauthorized("the session's API key was revoked; sign in again")
            role = "operator" if k.role == "operator" else "tenant"
            return Actor(role, f"apikey:{k.prefix}", None if role == "operator" else k.tenant_id)

    def authenticate(self, key: str) -> Actor:
        """The actor behind a bearer key; Unauthorized for unknown or revoked keys."""
        if not key.startswith(KEY_PREFIX):
            raise Unauthorized("invalid API key")
        with self.db.session() as s:
            k = s.scalar(select(ApiKey).where(ApiKey.key_hash == _hash(key)))
            if k is None or k.revoked_at is not None:
                raise Unauthorized("invalid or revoked API key")
            now = utcnow()
            if k.last_used_at is None or (now - k.last_used_at).total_seconds() > 60:
                k.last_used_at = now  # coarse, so busy keys do not write on every request
            role = "operator" if k.role == "operator" else "tenant"
            return Actor(role, f"apikey:{k.prefix}", None if role == "operator" else k.tenant_id)
