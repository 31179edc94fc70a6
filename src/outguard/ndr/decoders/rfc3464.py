"""RFC 3464 delivery status notifications: the `message/delivery-status` part, read as the RFC says.

Most MTAs (Postfix, Sendmail, Exchange, Gmail, …) write one; only the wording of the error text and
where they put the SMTP transcript differ, and the shared reason rules read that.
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, read_dsn
from outguard.ndr.smtptext import find_command

NAME = "RFC3464"

_FIELD_LINE = re.compile(r"^(?:final|original)-recipient:", re.I | re.M)


def detect(mail: Mail) -> bool:
    return bool(mail.dsn) or bool(_FIELD_LINE.search(mail.text))


def decode_with_mta(mail: Mail) -> tuple[str | None, list[Failure]]:
    if not mail.dsn and _FIELD_LINE.search(mail.text):
        # Some MTAs put the delivery-status fields in a text/plain part.
        from outguard.ndr.mail import _parse_fields

        start = _FIELD_LINE.search(mail.text)
        head = mail.text.rfind("\n\n", 0, start.start() if start else 0)
        mail.dsn = _parse_fields(mail.text[max(head, 0) :])
    reporting, found = read_dsn(mail)
    for failure in found:
        failure.reporting_mta = reporting
        about = text_about(mail.text, failure.recipient)
        if not failure.diagnostic:
            failure.diagnostic = about
        # The SMTP phase is usually only in the human part ("in reply to RCPT TO command",
        # a Sendmail ">>> RCPT To:" transcript).
        failure.command = (
            find_command(failure.diagnostic) or find_command(about) or find_command(mail.text[:20000])
        )
    return reporting, found


def decode(mail: Mail) -> list[Failure]:
    return decode_with_mta(mail)[1]


def text_about(text: str, recipient: str) -> str:
    """The lines of the human-readable part that follow the first mention of a recipient."""
    low = text.lower()
    at = low.find(recipient.lower())
    if at < 0:
        return ""
    end = low.find("\n\n", at)
    return text[at + len(recipient) : end if end > 0 else at + 800].strip(" >:\n\t")
