"""SQLAlchemy 2.0 models: tenants and everything an operator or tenant admin configures.

Every row that belongs to one tenant derives from `TenantOwned`; the store filters those rows by
tenant in one place (see `store.db.scoped_session`), so no query has to remember to.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from outguard.util import utcnow


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class TenantScoped:
    """Marker for rows that carry a `tenant_id`: tenant-scoped sessions see only their tenant's rows.

    Rows with a NULL tenant (an operator key, a message no tenant could be attributed) are
    visible to operators only.
    """

    @declared_attr
    def tenant_id(cls) -> Mapped[int | None]:
        return mapped_column(Integer, nullable=True)


class TenantOwned(TenantScoped):
    """Mixin for rows that always belong to one tenant (deleted with it)."""

    @declared_attr
    def tenant_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), index=True)


class Tenant(Base):
    __tablename__ = "tenant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    licensed: Mapped[bool] = mapped_column(Boolean, default=True)
    subscription_expires: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Block state: one block at a time, the code says which protection imposed it.
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | blocked
    block_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    block_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    blocked_since: Mapped[datetime | None] = mapped_column(nullable=True)
    blocked_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    block_evidence: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    tabl_mode: Mapped[str] = mapped_column(String(16), default="whole-message")  # | per-recipient
    alert_address: Mapped[str | None] = mapped_column(String(320), nullable=True)
    # Per-tenant overrides of [abuse]/[restricted]/[policy] settings, e.g. {"spam_ratio": 0.5}.
    limits: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bumped on every configuration change of the tenant: nodes reload only changed tenants.
    config_serial: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    domains: Mapped[list[AcceptedDomain]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan"
    )


class AcceptedDomain(TenantOwned, Base):
    __tablename__ = "accepted_domain"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)  # one tenant per domain
    verification_token: Mapped[str] = mapped_column(String(64))
    verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # "dns" or who attested
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    tenant: Mapped[Tenant] = relationship(back_populates="domains")


class Connector(TenantOwned, Base):
    __tablename__ = "connector"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # ip | certificate
    cert_domain: Mapped[str | None] = mapped_column(String(253), nullable=True, index=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")

    ranges: Mapped[list[ConnectorRange]] = relationship(
        back_populates="connector", cascade="all, delete-orphan", order_by="ConnectorRange.first"
    )


class ConnectorRange(TenantOwned, Base):
    """One IPv4 CIDR of an IP connector, with its bounds as integers for overlap checks."""

    __tablename__ = "connector_range"
    __table_args__ = (Index("ix_connector_range_bounds", "first", "last"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connector.id", ondelete="CASCADE"), index=True)
    cidr: Mapped[str] = mapped_column(String(43))
    first: Mapped[int] = mapped_column(BigInteger)
    last: Mapped[int] = mapped_column(BigInteger)

    connector: Mapped[Connector] = relationship(back_populates="ranges")


class Mailbox(TenantOwned, Base):
    """An SMTP AUTH login of a tenant."""

    __tablename__ = "mailbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")


class TablEntry(TenantOwned, Base):
    """An entry of the Tenant Allow/Block List (domains and addresses)."""

    __tablename__ = "tabl_entry"
    __table_args__ = (
        UniqueConstraint("tenant_id", "action", "value"),
        Index("ix_tabl_entry_tenant_action", "tenant_id", "action"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str] = mapped_column(String(330))  # normalised; immutable after creation
    kind: Mapped[str] = mapped_column(String(16))  # address | domain | wildcard
    action: Mapped[str] = mapped_column(String(8))  # block | allow
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)  # None: never
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    modified_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_by: Mapped[str] = mapped_column(String(200), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class LowReputationIp(Base):
    """The operator's local list of low-reputation client IPs (one source of 5.7.708)."""

    __tablename__ = "low_reputation_ip"
    __table_args__ = (Index("ix_low_reputation_ip_bounds", "first", "last"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cidr: Mapped[str] = mapped_column(String(43), unique=True)
    first: Mapped[int] = mapped_column(BigInteger)
    last: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str] = mapped_column(String(200), default="")


class IpException(TenantOwned, Base):
    """An operator's exception letting a trial tenant send from a low-reputation range."""

    __tablename__ = "ip_exception"
    __table_args__ = (UniqueConstraint("tenant_id", "cidr"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cidr: Mapped[str] = mapped_column(String(43))
    first: Mapped[int] = mapped_column(BigInteger)
    last: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_by: Mapped[str] = mapped_column(String(200), default="")


class ApiKey(TenantScoped, Base):
    """A bearer key for the API: operator-wide or scoped to one tenant. Only its hash is kept."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of a 256-bit random key
    role: Mapped[str] = mapped_column(String(16))  # operator | tenant
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.id", ondelete="CASCADE"), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AuditEntry(TenantScoped, Base):
    """One admin change: who, what, when, before and after (append-only)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no FK: outlives the tenant
    tenant_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(400), default="")
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)


class ConfigSerial(Base):
    """Serial numbers of configuration that is not per tenant (low-reputation list, ...)."""

    __tablename__ = "config_serial"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    serial: Mapped[int] = mapped_column(BigInteger, default=1)


# --- The message trace: append-mostly, written in batches off the SMTP path ----------------------


class TraceMessage(TenantScoped, Base):
    """One SMTP transaction: accepted and queued, or refused during the dialogue."""

    __tablename__ = "trace_message"
    __table_args__ = (
        Index("ix_trace_message_tenant_received", "tenant_id", "received"),
        Index("ix_trace_message_received", "received"),
        Index("ix_trace_message_message_id", "message_id"),
        Index("ix_trace_message_sender", "sender"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    queue_id: Mapped[str] = mapped_column(String(24), unique=True)
    message_id: Mapped[str] = mapped_column(String(255), default="")
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # no FK: the trace outlives config
    tenant_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received: Mapped[datetime] = mapped_column()
    sender: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    client_ip: Mapped[str] = mapped_column(String(45), default="")
    helo: Mapped[str] = mapped_column(String(255), default="")
    via: Mapped[str] = mapped_column(String(16), default="")  # certificate | auth | ip | "" (unattributed)
    connector: Mapped[str | None] = mapped_column(String(64), nullable=True)
    auth_user: Mapped[str | None] = mapped_column(String(320), nullable=True)
    tls: Mapped[str | None] = mapped_column(String(16), nullable=True)  # TLS version, None for plaintext
    unregistered: Mapped[bool] = mapped_column(Boolean, default=False)  # sender domain not accepted+verified
    # Refused during the dialogue: the stage, code and reply; None when accepted.
    refused_stage: Mapped[str | None] = mapped_column(String(8), nullable=True)
    code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    rule_hits: Mapped[list[Any]] = mapped_column(default=list)
    rule_misses: Mapped[list[Any]] = mapped_column(default=list)
    # The outbound spam/bulk verdict (issue: abuse protection); None when no classifier ran.
    spam: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    spam_score: Mapped[float | None] = mapped_column(nullable=True)
    bulk_level: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0-9, like Exchange's BCL
    spam_tests: Mapped[list[Any]] = mapped_column(default=list)  # names of the tests that fired
    classifier: Mapped[str | None] = mapped_column(String(16), nullable=True)  # builtin | rspamd
    node: Mapped[str] = mapped_column(String(64), default="")


class TraceRecipient(TenantScoped, Base):
    """One recipient of a traced message and where its delivery stands."""

    __tablename__ = "trace_recipient"
    __table_args__ = (
        UniqueConstraint("queue_id", "recipient"),
        Index("ix_trace_recipient_tenant_recipient", "tenant_id", "recipient"),
        Index("ix_trace_recipient_status", "status"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    queue_id: Mapped[str] = mapped_column(String(24), index=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recipient: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(
        String(16)
    )  # Delivered | Failed | Pending | FilteredAsSpam | Quarantined
    code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    remote_mta: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[datetime] = mapped_column()


class TraceEvent(TenantScoped, Base):
    """One event in a message's life: received, a rule decision, queued, an attempt, NDR sent."""

    __tablename__ = "trace_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    queue_id: Mapped[str] = mapped_column(String(24), index=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str | None] = mapped_column(String(320), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- Abuse protection: verdicts, restricted senders, delisting requests, alerts ------------------


class RestrictedSender(TenantOwned, Base):
    """A sender (mailbox, or envelope sender of connector mail) over its outbound limits: 5.1.8."""

    __tablename__ = "restricted_sender"
    __table_args__ = (Index("ix_restricted_sender_tenant_address", "tenant_id", "address"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    limit_name: Mapped[str] = mapped_column(String(32))  # external_per_hour | internal_per_hour | per_day
    count: Mapped[int] = mapped_column(Integer, default=0)  # the counter value that tripped it
    threshold: Mapped[int] = mapped_column(Integer, default=0)
    action: Mapped[str] = mapped_column(
        String(24)
    )  # block-until-tomorrow | block-until-released | alert-only
    restricted_at: Mapped[datetime] = mapped_column(default=utcnow)
    until: Mapped[datetime | None] = mapped_column(nullable=True)  # None: until released
    released_at: Mapped[datetime | None] = mapped_column(nullable=True)
    released_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    release_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class DelistingRequest(TenantOwned, Base):
    """A tenant admin's request to lift a block, with their explanation; operators act on it."""

    __tablename__ = "delisting_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16))  # the block it is about, e.g. 5.7.705
    explanation: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | accepted | rejected
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    handled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    handled_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    response: Mapped[str | None] = mapped_column(Text, nullable=True)


class Alert(TenantScoped, Base):
    """An alert raised by a protection (early warning, block, restriction), for the portal and API."""

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_tenant_at", "tenant_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(
        String(48)
    )  # e.g. tenant-threshold-warning, tenant-blocked, sender-restricted
    severity: Mapped[str] = mapped_column(String(8), default="high")  # medium | high
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
