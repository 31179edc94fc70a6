"""Gmail's own (pre-2015) bounce text: indented recipients, "Technical details of … failure", "(state N)".

Gmail appends "(state N)" to the remote server's reply: N names the SMTP phase Gmail was in, and so
what failed; its own texts ("DNS Error: …") name the rest.
"""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import section, split_by_recipient
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure
from outguard.ndr.reasons import by_status
from outguard.ndr.smtptext import find_status

NAME = "Gmail"

_START = re.compile(
    r"^Delivery to the following recipients? (?:failed|has been delayed)|^Delivery incomplete", re.M
)
_END = re.compile(r"^\s*----- (?:Original message|Message header follows) -----", re.M)
_RCPT = re.compile(r"^[ \t]+(\S+@\S+)\s*$")
_STATE = re.compile(r"\(state (\d+)\)")
_STATES = {
    "6": ("MAIL", "failedstarttls"),
    "8": ("AUTH", "systemerror"),
    "9": ("AUTH", "systemerror"),
    "12": ("AUTH", "norelaying"),
    "13": ("EHLO", "blocked"),
    "14": ("RCPT", "userunknown"),
    "15": ("DATA", "filtered"),
    "17": ("DATA", "filtered"),
    "18": ("DATA", "filtered"),
}
_MESSAGES = (
    (
        "expired",
        (
            "DNS Error: Could not contact DNS servers",
            "Delivery to the following recipient has been delayed",
            "The recipient server did not accept our requests to connect",
        ),
    ),
    (
        "hostunknown",
        ("DNS Error: Domain name not found", "DNS Error: DNS server returned answer with no data"),
    ),
)
_SPECIFIC = re.compile(r"^[45]\.[1-7]\.[1-9]$")


def detect(mail: Mail) -> bool:
    return "googlemail.com" in mail.sender.lower() or (
        "gmail" in mail.sender.lower() and bool(_START.search(mail.text))
    )


def decode(mail: Mail) -> list[Failure]:
    body = section(mail.text, _START, _END)
    head = _START.search(mail.text)
    found = split_by_recipient(body.split("\n"), _RCPT)
    for f in found:
        if head and "delayed" in head.group(0):
            f.diagnostic = f"{head.group(0)}: {f.diagnostic}"
            f.action = "delayed"
        m = _STATE.search(f.diagnostic)
        if m and m.group(1) in _STATES:
            f.command, f.reason = _STATES[m.group(1)]
        else:
            for reason, phrases in _MESSAGES:
                if any(p in f.diagnostic for p in phrases):
                    f.reason = reason
                    break
        if f.reason:
            status = find_status(f.diagnostic)
            if _SPECIFIC.match(status):
                f.reason = by_status(status) or f.reason
    return found
