"""Feedback-loop reports: RFC 5965 ARF, Microsoft's JMRP complaints, and mailto unsubscribe requests.

- ARF: `multipart/report; report-type=feedback-report` with a `message/feedback-report` part.
- Microsoft (Outlook.com/Hotmail JMRP) writes no feedback-report part: "complaint about message
  from IP", sent by staff@hotmail.com, with the complained-about message attached; the complaining
  mailbox is its X-HmXmrOriginalRecipient header.
- Apple Mail's "Unsubscribe" button sends a message to the List-Unsubscribe mailto address with an
  `X-Apple-Unsubscribe: true` header: an opt-out from that recipient.
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "ARF"

_JMRP_SUBJECT = re.compile(r"^complaint about message from ", re.I)


def _is_jmrp(mail: Mail) -> bool:
    return bool(_JMRP_SUBJECT.match(mail.subject)) and "staff@hotmail.com" in mail.sender.lower()


def _is_apple_unsubscribe(mail: Mail) -> bool:
    return mail.header("X-Apple-Unsubscribe").lower() == "true"


def detect(mail: Mail) -> bool:
    return (
        mail.report_type == "feedback-report"
        or bool(mail.feedback)
        or _is_jmrp(mail)
        or _is_apple_unsubscribe(mail)
    )


def decode(mail: Mail) -> list[Failure]:
    if not mail.feedback and _is_apple_unsubscribe(mail):
        who = clean_address(mail.sender)
        return [Failure(recipient=who, action="", reason="feedback", feedback_type="opt-out")] if who else []
    fields = dict(reversed(mail.feedback))
    ftype = (fields.get("feedback-type") or "abuse").lower().split()[0]
    rcpts: list[str] = []
    for name, value in mail.feedback:
        if name in ("original-rcpt-to", "removal-recipient"):
            addr = clean_address(value)
            if addr and addr not in rcpts:
                rcpts.append(addr)
    if not rcpts:
        # Microsoft names the complaining mailbox in a header of the attached message.
        addr = clean_address(mail.original_header("X-HmXmrOriginalRecipient"))
        rcpts = [addr] if addr else []
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
