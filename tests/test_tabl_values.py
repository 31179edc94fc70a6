"""Allow/block list values (reference TABL semantics) and the in-memory index the policy reads."""

from __future__ import annotations

import math

import pytest

from outguard.errors import InvalidValue
from outguard.tabl import TenantBlockList, parse_value


@pytest.mark.parametrize(
    ("raw", "value", "kind"),
    [
        ("User@Example.COM", "user@example.com", "address"),
        ("example.com", "example.com", "domain"),
        ("Example.com.", "example.com", "domain"),
        ("*.Example.com", "*.example.com", "wildcard"),
        ("*.com", "*.com", "wildcard"),  # a whole top-level domain (reference: *.TLD)
        ("*.sub.example.com", "*.sub.example.com", "wildcard"),
        ("bücher.de", "xn--bcher-kva.de", "domain"),  # IDNA: stored as the A-label
        ("xn--bcher-kva.de", "xn--bcher-kva.de", "domain"),
        ("info@Bücher.de", "info@xn--bcher-kva.de", "address"),
        ('"bad attacker"@example.com', '"bad attacker"@example.com', "address"),
        ("first.last+tag@example.com", "first.last+tag@example.com", "address"),
    ],
)
def test_values_are_normalised(raw: str, value: str, kind: str) -> None:
    parsed = parse_value(raw)
    assert (parsed.value, parsed.kind) == (value, kind)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "example",  # a domain needs a dot
        "exa mple.com",
        "-example.com",
        "example-.com",
        "conto*so.com",  # embedded wildcards are not allowed (reference TABL)
        "*example.com",
        "*.*.com",
        "user@",
        "@example.com",
        "us er@example.com",
        "a..b@example.com",
        "user@localhost",
        "x" * 64 + ".com",
        "xn--zz.com",  # punycode that does not decode
    ],
)
def test_invalid_values_are_refused(raw: str) -> None:
    with pytest.raises(InvalidValue) as err:
        parse_value(raw)
    assert repr(raw) in str(err.value)


def _index(*entries: tuple[str, float | None]) -> TenantBlockList:
    idx = TenantBlockList()
    for raw, expires in entries:
        p = parse_value(raw)
        idx.add(p.value, p.kind, expires)
    return idx


def test_address_entry_matches_only_that_address() -> None:
    idx = _index(("bad@example.com", None))
    assert idx.match("BAD@Example.com", 0) == "bad@example.com"
    assert idx.match("good@example.com", 0) is None


def test_domain_entry_does_not_cover_subdomains() -> None:
    # Reference TABL: blocking contoso.com does not block marketing.contoso.com.
    idx = _index(("example.com", None))
    assert idx.match("anyone@example.com", 0) == "example.com"
    assert idx.match("anyone@marketing.example.com", 0) is None


def test_wildcard_covers_domain_and_all_subdomains() -> None:
    idx = _index(("*.example.com", None))
    assert idx.match("a@example.com", 0) == "*.example.com"
    assert idx.match("a@x.y.example.com", 0) == "*.example.com"
    assert idx.match("a@notexample.com", 0) is None


def test_most_specific_entry_is_reported() -> None:
    idx = _index(("*.example.com", None), ("example.com", None), ("a@example.com", None))
    assert idx.match("a@example.com", 0) == "a@example.com"
    assert idx.match("b@example.com", 0) == "example.com"
    assert idx.match("b@sub.example.com", 0) == "*.example.com"


def test_idna_recipient_matches_unicode_entry() -> None:
    idx = _index(("bücher.de", None))
    assert idx.match("info@BÜCHER.de", 0) == "xn--bcher-kva.de"
    assert idx.match("info@xn--bcher-kva.de", 0) == "xn--bcher-kva.de"


def test_expired_entries_do_not_match() -> None:
    idx = _index(("a@example.com", 100.0), ("*.example.org", 50.0))
    assert idx.match("a@example.com", 99.9) == "a@example.com"
    assert idx.match("a@example.com", 100.0) is None
    assert idx.match("a@x.example.org", 60.0) is None
    assert len(idx) == 2
    assert math.isinf(_index(("a@b.com", None)).addresses["a@b.com"])
