"""Verizon Wireless gateways: the MMS gateway (vzwpix.com, "Message could not be delivered to mobile.")
and the vtext.com SMS gateway ("Error: …" then the SMTP exchange)."""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "Verizon"

_MMS_START = "Message could not be delivered to mobile"
_MESSAGES = (
    (
        "userunknown",
        ("No valid recipients for this MM", "550 - Requested action not taken: no such user here"),
    ),
)


def detect(mail: Mail) -> bool:
    sender = mail.sender.lower()
    if re.search(r"sysadmin@[\w.-]*\.vzwpix\.com", sender):
        return _MMS_START in mail.text
    return "post_master@vtext.com" in sender


def decode(mail: Mail) -> list[Failure]:
    out: list[Failure] = []
    if _MMS_START in mail.text:
        body = mail.text[mail.text.find(_MMS_START) :]
        error = ""
        for line in body.split("\n"):
            stripped = line.strip()
            if stripped.startswith("Error:"):
                error = stripped
            m = re.match(r"^To:[ \t]+(.+)$", stripped)
            if m and clean_address(m.group(1)):
                out.append(Failure(recipient=clean_address(m.group(1)), diagnostic=error))
    else:
        reading = False
        for line in mail.text.split("\n"):
            stripped = line.strip()
            if stripped.startswith("Error:"):
                reading = True
                continue
            if not reading:
                continue
            m = re.match(r"^RCPT TO: (.+)$", stripped)
            if m and clean_address(m.group(1)):
                out.append(Failure(recipient=clean_address(m.group(1))))
            elif out and re.match(r"^\d{3}[ \t]-[ \t]", stripped):
                out[-1].diagnostic = stripped
    for f in out:
        for reason, phrases in _MESSAGES:
            if any(p in f.diagnostic for p in phrases):
                f.reason = reason
    return out
