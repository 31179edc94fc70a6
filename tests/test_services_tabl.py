"""Allow/block list administration: expiry rules, immutability, quota, all-or-nothing, audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outguard.errors import Conflict, InvalidValue, NotFound, QuotaExceeded
from outguard.services import Services


@pytest.fixture
def acme(svc: Services) -> str:
    svc.tenants.add("acme")
    return "acme"


def _expiry(view: dict) -> datetime:
    return datetime.fromisoformat(view["expires_at"].replace("Z", "+00:00"))


def test_default_expiry_is_30_days(svc: Services, acme: str) -> None:
    [e] = svc.tabl.add(acme, ["bad@example.com"])
    delta = _expiry(e) - datetime.now(UTC)
    assert timedelta(days=29, hours=23) < delta <= timedelta(days=30)
    assert e["kind"] == "address" and e["action"] == "block" and e["created_by"].startswith("cli:")


def test_days_expires_and_no_expiration(svc: Services, acme: str) -> None:
    [a] = svc.tabl.add(acme, ["a.example.com"], days=7)
    assert timedelta(days=6, hours=23) < _expiry(a) - datetime.now(UTC) <= timedelta(days=7)
    date = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    [b] = svc.tabl.add(acme, ["b.example.com"], expires=date)
    assert b["expires_at"].startswith(date)  # the end of that day, UTC
    [c] = svc.tabl.add(acme, ["*.c.example.com"], no_expiration=True)
    assert c["expires_at"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"days": 91}, "between 1 and 90"),
        ({"days": 0}, "between 1 and 90"),
        ({"expires": (datetime.now(UTC) + timedelta(days=92)).date().isoformat()}, "more than 90 days ahead"),
        ({"expires": "2020-01-01"}, "in the past"),
        ({"expires": "tomorrow"}, "expected YYYY-MM-DD"),
        ({"days": 3, "no_expiration": True}, "only one of"),
    ],
)
def test_bad_expiry_is_refused(svc: Services, acme: str, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        svc.tabl.add(acme, ["x@example.com"], **kwargs)
    assert svc.tabl.list(acme) == []


def test_one_bad_value_writes_nothing(svc: Services, acme: str) -> None:
    with pytest.raises(InvalidValue, match="'not a domain'"):
        svc.tabl.add(acme, ["good@example.com", "not a domain"])
    assert svc.tabl.list(acme) == []


def test_duplicates_are_refused(svc: Services, acme: str) -> None:
    svc.tabl.add(acme, ["Bad@Example.com"])
    with pytest.raises(Conflict, match="'bad@example.com' is already on the block list"):
        svc.tabl.add(acme, ["other@example.com", "bad@example.COM"])
    assert [e["value"] for e in svc.tabl.list(acme)] == ["bad@example.com"]
    with pytest.raises(InvalidValue, match="given twice"):
        svc.tabl.add(acme, ["x.example.com", "X.example.com"])


def test_values_are_immutable_only_expiry_and_notes_change(svc: Services, acme: str) -> None:
    svc.tabl.add(acme, ["bad@example.com"], notes="phishing")
    [e] = svc.tabl.update(acme, ["bad@example.com"], no_expiration=True, notes="confirmed phishing")
    assert e["value"] == "bad@example.com" and e["expires_at"] is None and e["notes"] == "confirmed phishing"
    assert not hasattr(svc.tabl, "rename")
    with pytest.raises(InvalidValue, match="give a new expiry"):
        svc.tabl.update(acme, ["bad@example.com"])
    with pytest.raises(NotFound, match="not on the block list: other@example.com"):
        svc.tabl.update(acme, ["other@example.com"], days=3)


def test_quota_counts_active_block_entries(svc: Services, acme: str) -> None:
    svc.tenants.set(acme, limits={"tabl_quota": 3})
    svc.tabl.add(acme, ["a@example.com", "b@example.com"])
    with pytest.raises(QuotaExceeded, match="would have 4 block entries; the quota is 3"):
        svc.tabl.add(acme, ["c@example.com", "d@example.com"])
    assert len(svc.tabl.list(acme)) == 2  # nothing half-written
    svc.tabl.add(acme, ["c@example.com"])
    svc.tabl.add(acme, ["ok@example.com"], action="allow")  # allow entries have their own budget


def test_default_quota_is_ten_thousand(svc: Services) -> None:
    assert svc.tabl.quota({}) == 10_000


def test_remove_is_all_or_nothing(svc: Services, acme: str) -> None:
    svc.tabl.add(acme, ["a@example.com", "*.example.org"])
    with pytest.raises(NotFound, match="missing@example.com"):
        svc.tabl.remove(acme, ["a@example.com", "missing@example.com"])
    assert len(svc.tabl.list(acme)) == 2
    svc.tabl.remove(acme, ["A@example.com", "*.EXAMPLE.org"])
    assert svc.tabl.list(acme) == []


def test_allow_entries_expire_within_30_days(svc: Services, acme: str) -> None:
    with pytest.raises(InvalidValue, match="allow entries always expire"):
        svc.tabl.add(acme, ["a@example.com"], action="allow", no_expiration=True)
    with pytest.raises(InvalidValue, match="between 1 and 30"):
        svc.tabl.add(acme, ["a@example.com"], action="allow", days=45)


def test_every_change_is_audited(svc: Services, acme: str) -> None:
    svc.tabl.add(acme, ["a@example.com"])
    svc.tabl.update(acme, ["a@example.com"], notes="n")
    svc.tabl.remove(acme, ["a@example.com"])
    log = svc.audit.list(tenant=acme)
    assert [a["action"] for a in log[:3]] == ["tabl.block.remove", "tabl.block.update", "tabl.block.add"]
    assert log[1]["before"]["notes"] == "" and log[1]["after"]["notes"] == "n"
    assert log[0]["before"]["value"] == "a@example.com" and log[0]["after"] is None


def test_unknown_tenant(svc: Services) -> None:
    with pytest.raises(NotFound, match="unknown tenant 'nope'"):
        svc.tabl.add("nope", ["a@example.com"])
