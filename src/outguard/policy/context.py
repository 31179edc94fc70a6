"""What a rule reads (`Context`) and what it returns (`Decision`). No I/O happens here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from outguard.codes import StatusCode
from outguard.store.snapshot import TenantConfig


class Stage(enum.Enum):
    """SMTP stages at which rules run (the earliest stage that knows enough, per CONTRACT.md)."""

    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"
    EOM = "EOM"


@dataclass(frozen=True)
class Decision:
    """A rule's refusal: the catalogue code, the values for its text, and why (for the trace)."""

    rule: str
    code: StatusCode
    values: dict[str, str] = field(default_factory=dict)
    detail: str = ""
    recipients: tuple[str, ...] = ()  # the recipients the decision is about, when it names some
    enforce: bool = True  # False: the protection's own setting says alert only (recorded, never refused)

    @property
    def reply(self) -> str:
        return self.code.reply_line(**self.values)

    def as_trace(self, mode: str) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "code": self.code.enhanced,
            "reply": self.reply,
            "detail": self.detail,
            "mode": mode,
            "recipients": list(self.recipients),
        }


@dataclass
class Context:
    """Everything a rule may look at, gathered by the pipeline before the rules run."""

    now: float
    today: date
    client_ip: str
    tenant: TenantConfig | None = None
    via: str = ""  # certificate | auth | ip
    connector: str | None = None
    cert_domain: str | None = None  # the certificate connector's domain, when via == certificate
    auth_user: str | None = None
    sender: str = ""  # envelope sender; "" for the null sender <>
    recipients: list[str] = field(default_factory=list)
    recipient: str | None = None  # the recipient being checked at RCPT
    counts: dict[str, int] = field(default_factory=dict)  # counter values the pipeline fetched
    settings: dict[str, Any] = field(default_factory=dict)  # effective limits (global + tenant overrides)
    facts: dict[str, Any] = field(default_factory=dict)  # lookups done by the pipeline (reputation, spam)

    @property
    def sender_key(self) -> str:
        """Whose outbound limits apply: the logged-in mailbox, else the envelope sender ("" for <>)."""
        if self.via == "auth" and self.auth_user:
            return self.auth_user
        return self.sender.lower()

    def is_internal(self, recipient: str) -> bool:
        """A recipient in one of the tenant's accepted domains (reference: internal recipients)."""
        return bool(self.tenant and self.tenant.is_accepted(recipient.rpartition("@")[2].lower()))

    @property
    def sender_domain(self) -> str:
        return self.sender.rpartition("@")[2].lower() if self.sender else ""

    @property
    def sender_in_accepted_domain(self) -> bool:
        return bool(self.tenant and self.sender_domain and self.tenant.is_accepted(self.sender_domain))

    @property
    def certificate_exempt(self) -> bool:
        """Mail over a certificate connector whose certificate domain is an accepted domain (or directly
        under one) is exempt from the unregistered-domain count (reference §4.3, ATTR36)."""
        if self.via != "certificate" or not self.cert_domain or self.tenant is None:
            return False
        bare = self.cert_domain[2:] if self.cert_domain.startswith("*.") else self.cert_domain
        parent = bare.split(".", 1)[1] if "." in bare else bare
        return self.tenant.domain_verified(bare) or self.tenant.domain_verified(parent)

    @property
    def unregistered_sender(self) -> bool:
        """The message counts against the tenant's unregistered-domain allowance (5.7.750)."""
        if self.tenant is None or not self.sender or self.certificate_exempt:
            return False  # the null sender (bounces) is never counted
        return not self.tenant.domain_verified(self.sender_domain)
