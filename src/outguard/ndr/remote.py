"""Remote-host rules: mailbox providers whose own codes name the reason better than the text does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from outguard.ndr.reasons import RETRY as RETRY

if TYPE_CHECKING:
    from outguard.ndr.mail import Mail
    from outguard.ndr.parse import Failure
    from outguard.ndr.reasons import Evidence


def find(failure: Failure, mail: Mail, ev: Evidence) -> str:
    """A reason decided by the remote provider's documented codes, or ''."""
    return ""
