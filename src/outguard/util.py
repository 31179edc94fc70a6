"""Small helpers shared across packages: UTC time, IPv4 ranges."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, as every JSON output writes times."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ipv4_int(address: str) -> int:
    return int(ipaddress.IPv4Address(address))
