"""What every admin service shares: who is acting, the unit of work, tenant lookup, the audit trail."""

from __future__ import annotations

import getpass
import ipaddress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from outguard.config import Settings
from outguard.errors import Forbidden, InvalidValue, NotFound
from outguard.model import AuditEntry, ConfigSerial, Tenant
from outguard.store import Database
from outguard.util import isoformat, utcnow


@dataclass(frozen=True)
class Actor:
    """Who is acting: an operator (all tenants) or a tenant admin (one tenant)."""

    role: Literal["operator", "tenant"]
    name: str  # recorded in the audit log: "cli:alice", "apikey:og_3f9a…", "system:abuse"
    tenant_id: int | None = None

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except Exception:
            user = "unknown"
        return cls("operator", f"cli:{user}")

    @classmethod
    def system(cls, part: str) -> Actor:
        return cls("operator", f"system:{part}")


class ServiceBase:
    def __init__(self, db: Database, settings: Settings, actor: Actor) -> None:
        self.db, self.settings, self.actor = db, settings, actor

    # Units of work ---------------------------------------------------------------------------

    def session(self) -> Any:
        """A session that sees only the actor's tenant (or everything, for operators)."""
        return self.db.session(self.actor.tenant_id)

    def global_session(self) -> Any:
        """Unscoped, for global uniqueness checks only; never return its rows to a tenant actor."""
        return self.db.session()

    def require_operator(self, what: str) -> None:
        if not self.actor.is_operator:
            raise Forbidden(f"only an operator can {what}")

    def tenant(self, s: Session, name: str) -> Tenant:
        """The named tenant, as the actor may see it (a tenant admin sees only its own)."""
        t = s.scalar(select(Tenant).where(Tenant.name == name.strip()))
        if t is None:
            raise NotFound(f"unknown tenant {name!r}")
        return t

    def audit(
        self,
        s: Session,
        action: str,
        *,
        tenant: Tenant | None = None,
        target: str = "",
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        s.add(
            AuditEntry(
                at=utcnow(),
                actor=self.actor.name,
                tenant_id=tenant.id if tenant else None,
                tenant_name=tenant.name if tenant else None,
                action=action,
                target=target,
                reason=reason,
                before=before,
                after=after,
            )
        )

    @staticmethod
    def changed(s: Session, tenant: Tenant | None = None) -> None:
        """Tell the snapshot of every node that configuration changed (tenant or global part)."""
        if tenant is not None:
            s.execute(
                update(Tenant).where(Tenant.id == tenant.id).values(config_serial=Tenant.config_serial + 1)
            )
        else:
            row = s.get(ConfigSerial, "global")
            if row is None:
                s.add(ConfigSerial(name="global", serial=2))
            else:
                row.serial += 1


# Value parsing shared by the services -------------------------------------------------------------


def parse_cidr(value: str, *, what: str = "CIDR", min_prefix: int = 8) -> ipaddress.IPv4Network:
    """An IPv4 network in CIDR form (a bare address is a /32); host bits must be zero."""
    raw = value.strip()
    try:
        net = ipaddress.IPv4Network(raw if "/" in raw else raw + "/32", strict=True)
    except ipaddress.AddressValueError:
        raise InvalidValue(what, value, "not an IPv4 address or CIDR (IPv6 is not supported here)")
    except ipaddress.NetmaskValueError:
        raise InvalidValue(what, value, "invalid prefix length")
    except ValueError as e:
        if "host bits set" in str(e):
            fixed = ipaddress.IPv4Network(raw, strict=False)
            raise InvalidValue(what, value, f"has host bits set; did you mean {fixed}?")
        raise InvalidValue(what, value, str(e))
    if net.prefixlen < min_prefix:
        raise InvalidValue(what, value, f"wider than /{min_prefix}")
    return net


def parse_expiry(
    *,
    days: int | None = None,
    expires: str | date | None = None,
    no_expiration: bool = False,
    default_days: int | None = None,
    max_days: int | None = None,
) -> datetime | None:
    """Expiry from the mutually exclusive --days / --expires / --no-expiration options.

    A date means the end of that day (UTC). Returns None for "never".
    """
    given = [x for x in (days is not None, expires is not None, no_expiration) if x]
    if len(given) > 1:
        raise InvalidValue("expiry", "", "give only one of --days, --expires and --no-expiration")
    now = utcnow()
    if no_expiration:
        return None
    if days is not None:
        if days < 1 or (max_days is not None and days > max_days):
            limit = f"between 1 and {max_days}" if max_days else "at least 1"
            raise InvalidValue("number of days", days, f"must be {limit}")
        return now + timedelta(days=days)
    if expires is not None:
        at = _parse_when(expires)
        if at <= now:
            raise InvalidValue("expiry date", str(expires), "is in the past")
        if max_days is not None and at.date() > (now + timedelta(days=max_days)).date():
            raise InvalidValue("expiry date", str(expires), f"is more than {max_days} days ahead")
        return at
    if default_days is None:
        return None
    return now + timedelta(days=default_days)


def _parse_when(value: str | date) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59, 59), UTC)
    raw = value.strip()
    try:
        if len(raw) == 10:
            return datetime.combine(date.fromisoformat(raw), time(23, 59, 59), UTC)
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return at if at.tzinfo else at.replace(tzinfo=UTC)
    except ValueError:
        raise InvalidValue("date", value, "expected YYYY-MM-DD or an ISO 8601 time")


def parse_date(value: str | date | None, *, what: str = "date") -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidValue(what, value, "expected YYYY-MM-DD")


def require_reason(reason: str | None, *, what: str) -> str:
    text = (reason or "").strip()
    if len(text) < 10:
        raise InvalidValue(
            "reason",
            reason or "",
            f"{what} needs a written reason (cause and remedy, at least 10 characters)",
        )
    return text


__all__ = ["Actor", "ServiceBase", "isoformat", "parse_cidr", "parse_date", "parse_expiry", "require_reason"]
