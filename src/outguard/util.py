"""Small helpers shared across packages: UTC time, IPv4 addresses, header text."""

from __future__ import annotations

import email.errors
import email.header
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


def header_text(raw: str | None) -> str:
    """A header value as readable text: RFC 2047 words decoded, raw 8-bit (RFC 6532) read as UTF-8,
    folding collapsed. The stdlib parser keeps non-ASCII header bytes as surrogate escapes."""
    if not raw:
        return ""
    text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    try:
        text = str(email.header.make_header(email.header.decode_header(text)))
    except (email.errors.HeaderParseError, LookupError, UnicodeDecodeError):
        pass  # a malformed encoded word: show the header as it came
    return " ".join(text.split())
