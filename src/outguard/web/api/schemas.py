"""Request bodies of the API. Unknown fields are refused (422), like unknown configuration keys."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BULK_VALUES = 20  # the reference portal adds at most 20 values per operation (ref. §2.8)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantCreate(Body):
    name: str
    trial: bool = False
    subscription_expires: date | None = None


class TenantChange(Body):
    licensed: bool | None = None
    subscription_expires: date | None = None
    clear_subscription: bool = False
    tabl_mode: Literal["whole-message", "per-recipient"] | None = None
    alert_address: str | None = None
    limits: dict[str, Any] | None = None


class Reason(Body):
    reason: str = Field(description="Cause and remedy, at least 10 characters; kept in the audit log.")


class Block(Reason):
    code: str = "5.7.705"


class DomainCreate(Body):
    domain: str
    verified: bool = Field(False, description="Operator only: attest the domain without DNS verification.")


class ConnectorCreate(Body):
    name: str
    ips: list[str] | None = None
    cert_domain: str | None = None


class MailboxCreate(Body):
    address: str
    password: Annotated[str, Field(repr=False)]


class Password(Body):
    password: Annotated[str, Field(repr=False)]


class Expiry(Body):
    days: int | None = None
    expires: str | None = Field(None, description="YYYY-MM-DD (end of that day, UTC) or an ISO 8601 time.")
    no_expiration: bool = False


class TablAdd(Expiry):
    values: Annotated[list[str], Field(min_length=1, max_length=MAX_BULK_VALUES)]
    action: Literal["block", "allow"] = "block"
    notes: str = ""


class TablChange(Expiry):
    values: Annotated[list[str], Field(min_length=1, max_length=MAX_BULK_VALUES)]
    action: Literal["block", "allow"] = "block"
    notes: str | None = None


class TablRemove(Body):
    values: Annotated[list[str], Field(min_length=1, max_length=MAX_BULK_VALUES)]
    action: Literal["block", "allow"] = "block"


class IpExceptionCreate(Body):
    cidr: str
    reason: str
    expires: str | None = None


class ReputationCreate(Body):
    cidr: str
    reason: str
    expires: str | None = None


class DelistingCreate(Body):
    explanation: str = Field(description="What caused the block and what was fixed (at least 10 characters).")


class Decision(Body):
    response: str = Field(description="The operator's answer; for an accepted request, the unblock reason.")


class ApiKeyCreate(Body):
    operator: bool = False
    tenant: str | None = None
    label: str = ""
