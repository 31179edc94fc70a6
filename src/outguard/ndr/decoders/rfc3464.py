"""RFC 3464 delivery status notifications: the `message/delivery-status` part, read as the RFC says.

Most MTAs (Postfix, Sendmail, Exchange, Gmail, …) write one; only the wording of the error text and
where they put the SMTP transcript differ, and the shared reason rules read that.
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address, read_dsn
from outguard.ndr.smtptext import find_command, find_reply, find_status

NAME = "RFC3464"

_FIELD_LINE = re.compile(r"^(?:final|original)-recipient:", re.I | re.M)


def detect(mail: Mail) -> bool:
    return bool(mail.dsn) or bool(_FIELD_LINE.search(mail.text))


def decode_with_mta(mail: Mail) -> tuple[str | None, list[Failure]]:
    human = mail.text  # the human-readable part of the report
    if not mail.dsn and _FIELD_LINE.search(mail.text):
        # Some MTAs put the delivery-status fields in a text/plain part.
        from outguard.ndr.mail import _parse_fields

        start = _FIELD_LINE.search(mail.text)
        head = mail.text.rfind("\n\n", 0, start.start() if start else 0)
        mail.dsn = _parse_fields(mail.text[max(head, 0) :])
        human = mail.text[: max(head, 0)]
    reporting, found = read_dsn(mail)
    # Without a delivery-status part, the note itself is the only error text there is.
    lead = _lead(human) if human is not mail.text and len(found) == 1 else ""
    if not found and _UNAVAILABLE in mail.text:
        # Postfix lost its log of the failure: the recipient is the returned message's To:.
        to = clean_address(mail.original_header("To"))
        found = [Failure(recipient=to)] if to else []
    for failure in found:
        failure.reporting_mta = reporting
        about = text_about(human, failure.recipient)
        if not failure.diagnostic:
            failure.diagnostic = about or lead
        elif len(found) == 1 and not about:
            whole = _lead(human)
            if whole and " ".join(failure.diagnostic.split()).lower() not in whole.lower():
                failure.diagnostic = f"{whole} {failure.diagnostic}"
        elif _fuller(about, failure.diagnostic) and _colon_form(mail.text, failure.recipient):
            # The human part often has the whole reply (and the SMTP step) where the
            # Diagnostic-Code field kept only its first line.
            failure.diagnostic = about
        # The SMTP phase is usually only in the human part ("in reply to RCPT TO command",
        # a Sendmail ">>> RCPT To:" transcript).
        failure.command = (
            find_command(failure.diagnostic)
            or find_command(about)
            or find_command(mail.text[:20000], bare=False)
        )
        if not failure.command and "refused to talk to me" in " ".join(failure.diagnostic.split()):
            failure.command = "HELO"  # Postfix: the server refused the connection or the greeting
    return reporting, found


_UNAVAILABLE = "--- Delivery report unavailable ---"
# Lines of a report's human part that are MIME or banner boilerplate, not error text.
_BOILERPLATE = (
    "content-",
    "this is a mime",
    "this is a multi",
    "this is an auto",
    "this multi-part",
    "###",
    "***",
    "--",
)


def _lead(human: str) -> str:
    """The human part's text (without MIME boilerplate) for a report about a single recipient."""
    keep = [
        line.strip()
        for line in human.split("\n")
        if line.strip()
        and not line.strip().lower().startswith(_BOILERPLATE)
        and "--- The follow" not in line
        and "--- Transcript" not in line
    ]
    return " ".join(keep)[:2000]


_SPACES = re.compile(r"\s+")


def _colon_form(text: str, recipient: str) -> bool:
    """Does the human part say "<rcpt>: error" (Postfix and most MTAs), not a list of addresses?"""
    low, rcpt = text.lower(), recipient.lower()
    at = low.find(rcpt)
    while at >= 0:
        after = low[at + len(rcpt) : at + len(rcpt) + 3].lstrip(">")
        if after[:1] == ":" and after[1:2].isspace():
            return True
        at = low.find(rcpt, at + 1)
    return False


def _fuller(about: str, diagnostic: str) -> bool:
    """Is the human part's text about a recipient a longer version of its Diagnostic-Code?"""
    if not about or len(about) <= len(diagnostic):
        return False
    a = _SPACES.sub(" ", about).lower()
    d = _SPACES.sub(" ", diagnostic).strip().lower()
    return bool(d) and d in a and bool(find_reply(a) or find_status(a))


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
