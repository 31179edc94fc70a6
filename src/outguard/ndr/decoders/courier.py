"""Courier MTA: "NOTICE: mail delivery status." DSNs. Courier writes its own texts (not a remote
reply) in the Diagnostic-Code when it failed before reaching a server; they name the cause."""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure

NAME = "Courier"

# courier/module.esmtp/esmtpclient.c
_MESSAGES = (
    ("hostunknown", "No such domain."),
    ("systemerror", "This domain's DNS violates RFC 1035."),
    ("networkerror", "DNS lookup failed."),
)


def detect(mail: Mail) -> bool:
    if "Courier mail server at " in mail.sender:
        return True
    if re.search(r"NOTICE: mail delivery status\.|WARNING: delayed mail\.", mail.subject):
        return True
    return bool(re.match(r"<courier\.[0-9A-F]+\.", mail.header("Message-ID")))


def enrich(mail: Mail, found: list[Failure]) -> None:
    """Courier's own error texts decide the reason of the recipients its DSN lists."""
    for f in found:
        for reason, phrase in _MESSAGES:
            if phrase in f.diagnostic:
                f.reason = reason
                break
