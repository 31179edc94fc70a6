"""Explanations: catalogue remedies for catalogued codes, reason/class remedies for the rest."""

from __future__ import annotations

import pytest

from outguard import codes
from outguard.ndr.explain import remedy_for
from outguard.ndr.parse import Failure


@pytest.mark.parametrize("entry", codes.OUTGUARD_CODES, ids=[c.enhanced for c in codes.OUTGUARD_CODES])
def test_every_outguard_code_gets_its_catalogue_remedy(entry: codes.StatusCode) -> None:
    failure = Failure(
        recipient="bob@example.net",
        status=entry.enhanced,
        reply_code=str(entry.reply),
        diagnostic=f"{entry.reply} {entry.enhanced} {entry.text}",
        reason="onhold",
    )
    remedy = remedy_for(failure)
    assert remedy.source == "catalogue"
    assert (remedy.summary, remedy.sender_fix, remedy.admin_fix) == (
        entry.cause,
        entry.sender_fix,
        entry.admin_fix,
    )


def test_unknown_address_class_code_falls_back_to_the_reason_remedy() -> None:
    failure = Failure(
        recipient="bob@example.net", status="5.1.99", diagnostic="550 5.1.99 nope", reason="userunknown"
    )
    remedy = remedy_for(failure)
    assert remedy.source == "reason"
    assert "does not exist" in remedy.summary and "permanent" in remedy.summary


def test_temporary_failure_says_it_is_temporary() -> None:
    failure = Failure(recipient="bob@example.net", status="4.2.2", reason="mailboxfull", action="delayed")
    assert "temporary" in remedy_for(failure).summary


def test_vague_reason_is_explained_by_the_code_class() -> None:
    failure = Failure(recipient="bob@example.net", status="5.6.99", diagnostic="550 odd", reason="onhold")
    assert "content" in remedy_for(failure).summary
