"""Feedback-loop reports (RFC 5965 ARF): `multipart/report; report-type=feedback-report`."""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "ARF"


def detect(mail: Mail) -> bool:
    return mail.report_type == "feedback-report" or bool(mail.feedback)


def decode(mail: Mail) -> list[Failure]:
    fields = dict(reversed(mail.feedback))
    ftype = (fields.get("feedback-type") or "abuse").lower().split()[0]
    rcpts: list[str] = []
    for name, value in mail.feedback:
        if name in ("original-rcpt-to", "removal-recipient"):
            addr = clean_address(value)
            if addr and addr not in rcpts:
                rcpts.append(addr)
    if not rcpts:
        to = mail.original_header("To")
        rcpts = [a for a in (clean_address(p) for p in re.split(r",", to)) if a]
    if not rcpts:
        rcpts = ["undisclosed-recipient-in-headers@libsisimai.org.invalid"]
    reporting = fields.get("reporting-mta")
    return [
        Failure(recipient=r, action="", reason="feedback", feedback_type=ftype, reporting_mta=reporting)
        for r in rcpts
    ]
