"""Tenant Allow/Block List values and the in-memory index the policy reads.

A value is an address (`user@example.com`), a domain (`example.com`: that domain only) or a
wildcard (`*.example.com`: the domain, all its subdomains and every address in them), as the
reference TABL defines them. Values are normalised once — lower case, domains as IDNA A-labels —
so lookups are plain dictionary hits: O(1) per address and O(labels) per domain.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import idna

from outguard.errors import InvalidValue

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# RFC 5322 atext plus '.', and any non-ASCII character (RFC 6531 allows UTF-8 local parts).
_DOT_ATOM = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+)*$"
)
_QUOTED = re.compile(r'^"([\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$')


def normalise_domain(value: str, *, what: str = "domain") -> str:
    """Lower-case ASCII (A-label) form of a domain name; InvalidValue when it is not one."""
    raw = value.strip().rstrip(".")
    if not raw:
        raise InvalidValue(what, value, "empty")
    try:
        ascii_form = raw.lower() if raw.isascii() else idna.encode(raw, uts46=True).decode("ascii")
    except idna.IDNAError as e:
        raise InvalidValue(what, value, f"not a valid internationalised domain name ({e})")
    if len(ascii_form) > 253:
        raise InvalidValue(what, value, "longer than 253 characters")
    labels = ascii_form.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise InvalidValue(what, value, f"label {label!r} is not a valid host name label")
    if ascii_form.startswith("xn--") or ".xn--" in ascii_form:
        try:  # an A-label given directly must decode
            idna.decode(ascii_form)
        except idna.IDNAError as e:
            raise InvalidValue(what, value, f"invalid punycode ({e})")
    return ascii_form


def normalise_address(value: str, *, what: str = "address") -> str:
    """`Local@Domain` -> `local@domain` (A-label); InvalidValue for anything that is not one address."""
    raw = value.strip()
    local, sep, domain = raw.rpartition("@")
    if not sep or not local or not domain:
        raise InvalidValue(what, value, "not an email address (expected local@domain)")
    local = local.lower()
    if len(local.encode()) > 64:
        raise InvalidValue(what, value, "local part longer than 64 octets")
    if not (_DOT_ATOM.match(local) or _QUOTED.match(local)):
        raise InvalidValue(what, value, "invalid local part")
    domain_ascii = normalise_domain(domain, what=what)
    if "." not in domain_ascii:
        raise InvalidValue(what, value, "the domain needs at least one dot")
    return f"{local}@{domain_ascii}"


@dataclass(frozen=True)
class TablValue:
    value: str  # normalised
    kind: str  # address | domain | wildcard


def parse_value(value: str) -> TablValue:
    """Validate and normalise one list value (see the module docstring for the three forms)."""
    try:
        return _parse_value(value.strip())
    except InvalidValue as e:
        raise InvalidValue("list value", value, e.why) from None


def _parse_value(raw: str) -> TablValue:
    if "@" in raw:
        return TablValue(normalise_address(raw, what="list value"), "address")
    if raw.startswith("*."):
        return TablValue("*." + normalise_domain(raw[2:], what="list value"), "wildcard")
    if "*" in raw:
        raise InvalidValue(
            "list value", raw, "a wildcard is only allowed as a leading '*.' (e.g. *.example.com)"
        )
    domain = normalise_domain(raw, what="list value")
    if "." not in domain:
        raise InvalidValue(
            "list value",
            raw,
            "a domain needs at least one dot (use *.TLD to block a whole top-level domain)",
        )
    return TablValue(domain, "domain")


def recipient_key(address: str) -> tuple[str, str]:
    """(normalised address, domain) of an envelope recipient; never raises (unparseable stays as is)."""
    local, _, domain = address.rpartition("@")
    domain = domain.rstrip(".")
    if domain.isascii():
        domain = domain.lower()
    else:
        try:
            domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            domain = domain.lower()
    return f"{local.lower()}@{domain}", domain


@dataclass
class TenantBlockList:
    """One tenant's active block entries: value -> expiry (POSIX seconds, inf for never)."""

    addresses: dict[str, float] = field(default_factory=dict)
    domains: dict[str, float] = field(default_factory=dict)
    wildcards: dict[str, float] = field(default_factory=dict)  # keyed by the domain after "*."

    def add(self, value: str, kind: str, expires: float | None) -> None:
        exp = math.inf if expires is None else expires
        if kind == "address":
            self.addresses[value] = exp
        elif kind == "domain":
            self.domains[value] = exp
        else:
            self.wildcards[value[2:]] = exp

    def __len__(self) -> int:
        return len(self.addresses) + len(self.domains) + len(self.wildcards)

    def match(self, recipient: str, now: float) -> str | None:
        """The entry value that blocks `recipient`, most specific first, or None."""
        address, domain = recipient_key(recipient)
        exp = self.addresses.get(address)
        if exp is not None and now < exp:
            return address
        exp = self.domains.get(domain)
        if exp is not None and now < exp:
            return domain
        if self.wildcards:
            suffix = domain
            while True:
                exp = self.wildcards.get(suffix)
                if exp is not None and now < exp:
                    return "*." + suffix
                dot = suffix.find(".")
                if dot < 0:
                    return None
                suffix = suffix[dot + 1 :]
        return None
