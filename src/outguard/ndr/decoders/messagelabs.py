"""Symantec/Broadcom Email Security.cloud (MessageLabs): "Mail Delivery Failure".

"This is the mail delivery agent at Symantec Email Security.cloud." / "I was unable to deliver your
message to the following addresses:", the addresses, then "Reason: <the remote reply>" (which may
span lines), ahead of a delivery-status part.
"""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import merge_dsn
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "MessageLabs"

_START = "I was unable to deliver your message to the following addresses:"
_MESSAGES = (
    ("userunknown", re.compile(r"542 .+ Rejected|No such user")),
    ("securityerror", re.compile(r"Please turn on SMTP Authentication in your mail client")),
)


def detect(mail: Mail) -> bool:
    return _START in mail.text and (
        "messagelabs.com" in mail.sender.lower() or bool(mail.header("X-Msg-Ref"))
    )


def decode(mail: Mail) -> list[Failure]:
    body = mail.text[mail.text.find(_START) + len(_START) :]
    out: list[Failure] = []
    reason: list[str] = []
    for line in body.split("\n"):
        stripped = line.strip()
        if reason:
            if not stripped:
                break
            reason.append(stripped)
            continue
        if stripped.startswith("Reason:"):
            reason.append(stripped[7:].strip())
            continue
        addr = clean_address(stripped) if stripped and " " not in stripped else ""
        if addr:
            out.append(Failure(recipient=addr))
    text = " ".join(reason)
    for f in out:
        f.diagnostic = text
        for name, rule in _MESSAGES:
            if rule.search(text):
                f.reason = name
                break
    merge_dsn(mail, out)
    return out
