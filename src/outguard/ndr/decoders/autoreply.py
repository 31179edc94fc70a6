"""Auto-replies (RFC 3834): out-of-office and vacation answers are not bounces, but are reported."""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "RFC3834"

_SUBJECT = re.compile(
    r"^(?:auto(?:matic)?[ -]?(?:reply|response|answer)|out of (?:the )?office|vacation|abwesenheit|"
    r"auto:|autoreply|away from)",
    re.I,
)
_BODY = re.compile(
    r"i am away|i am out of (?:the )?office|i will be (?:out|away|traveling)|out of office", re.I
)


_BOUNCER = re.compile(r"mailer-daemon|postmaster|mail delivery|mail administrator", re.I)
_FAILURE = re.compile(r"undeliver|delivery (?:status|fail)|failure|returned mail|non.?delivery|bounce", re.I)


def detect(mail: Mail) -> bool:
    if _BOUNCER.search(mail.sender) or _FAILURE.search(mail.subject):
        return False
    auto = mail.header("Auto-Submitted").lower()
    if auto.startswith("auto-replied"):
        return True
    if mail.header("X-Autoreply") or mail.header("X-Autorespond"):
        return True
    if mail.header("Precedence").lower() == "auto_reply":
        return True
    return bool(_SUBJECT.search(mail.subject))


def decode(mail: Mail) -> list[Failure]:
    # The person who answered: the From: of the auto-reply.
    who = clean_address(mail.sender) or clean_address(mail.header("Reply-To"))
    if not who:
        return []
    return [Failure(recipient=who, action="", reason="vacation", diagnostic=mail.text[:200])]
