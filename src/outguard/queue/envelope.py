"""A spooled message's envelope: sender, recipients with their DSN parameters and delivery state."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXZ"  # no vowels: ids never spell words


def new_queue_id() -> str:
    """A short, unique, time-ordered id like Postfix's long queue ids (e.g. `4Q9XK2M7BHDT1R`)."""
    n = time.time_ns() // 1000
    out = []
    while n:
        n, r = divmod(n, len(_ALPHABET))
        out.append(_ALPHABET[r])
    r = secrets.randbits(25)
    rand = "".join(_ALPHABET[(r >> (5 * i)) % len(_ALPHABET)] for i in range(5))
    return "".join(reversed(out)) + rand


@dataclass
class Recipient:
    address: str
    orcpt: str | None = None  # RFC 3461 ORCPT as given, decoded: "rfc822;user@example.com"
    notify: list[str] | None = None  # RFC 3461 NOTIFY: None when not given, else e.g. ["FAILURE", "DELAY"]
    status: str = "pending"  # pending | delivered | relayed | failed
    code: str | None = None  # enhanced status of the last result
    detail: str | None = None  # the reply or error text of the last result
    remote_mta: str | None = None
    attempts: int = 0
    last_attempt: float | None = None

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    def wants(self, event: str) -> bool:
        """Whether a DSN for `event` (FAILURE, DELAY, SUCCESS) is requested (RFC 3461 §4.1)."""
        if self.notify is None:
            return event in ("FAILURE", "DELAY")  # the default: failures, delays at the MTA's choice
        return event in self.notify


@dataclass
class Envelope:
    queue_id: str
    sender: str  # "" for the null sender
    recipients: list[Recipient]
    arrival: float
    tenant_id: int | None = None
    tenant_name: str | None = None
    message_id: str = ""
    subject: str = ""
    size: int = 0
    client_ip: str = ""
    helo: str = ""
    ret: str | None = None  # RFC 3461 RET: FULL | HDRS
    envid: str | None = None  # RFC 3461 ENVID, decoded
    smtputf8: bool = False
    body: str | None = None  # BODY=8BITMIME when given
    next_hop: str | None = None  # overrides routing (the high-risk pool, demo capture)
    # Queue state
    next_attempt: float = 0.0
    first_deferred: float | None = None
    delay_notified: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pending(self) -> list[Recipient]:
        return [r for r in self.recipients if r.pending]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Envelope:
        rcpts = [Recipient(**r) for r in data.pop("recipients")]
        return cls(recipients=rcpts, **data)


def pid_node() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"
