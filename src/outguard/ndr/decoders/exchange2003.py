"""Exchange 5.5–2003 (Internet Mail Service): "did not reach the following recipient(s):".

No DSN and no enhanced code: each recipient line ("rcpt on DATE") is followed by indented text and an
"MSEXCH:IMS:… (000C05A6) …" line whose hexadecimal error number names the cause.
"""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import section, split_by_recipient
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure

NAME = "Exchange2003"

_START = re.compile(r"did not reach the following recipient\(s\):", re.I)
_END = re.compile(r"^(?:Content-Type: message/rfc822|-{3,}.*Original Message|From: )", re.M | re.I)
_RCPT = re.compile(r"^\s*(\S+@\S+) on ")
_ERRNO = re.compile(r"\((000[0-9A-F]{5})\)")
# IMS error numbers → reason (the "MSEXCH:IMS" texts Exchange writes next to them).
_ERRORS = {
    "000C05A6": "userunknown",  # Unknown Recipient
    "000C0595": "filtered",  # Ambiguous Recipient
    "00010256": "systemerror",  # Too many recipients
    "000D06B5": "systemerror",  # No proxy for recipient
    "00120270": "networkerror",  # Too Many Hops
    "00050311": "contenterror",  # Conversion to Internet format failed
    "000502CC": "contenterror",
    "000B0981": "securityerror",  # Server does not support AUTH
}


def detect(mail: Mail) -> bool:
    mailer = mail.header("X-Mailer") + mail.header("X-MimeOLE")
    if "Internet Mail Service" in mailer or "Microsoft Exchange Server Internet Mail Connector" in mailer:
        return True
    return bool(_START.search(mail.text)) and "MSEXCH:" in mail.text


def decode(mail: Mail) -> list[Failure]:
    body = section(mail.text, _START, _END)
    found = split_by_recipient(body.split("\n"), _RCPT)
    for f in found:
        # "on Thu, 29 Apr 2007 …" is the date of the attempt, not part of the error.
        f.diagnostic = re.sub(r"^on \w{3}, .*?\d{2}:\d{2}(?::\d{2})? [+-]\d{4}\s*", "", f.diagnostic)
        m = _ERRNO.search(f.diagnostic)
        if m and m.group(1) in _ERRORS:
            f.reason = _ERRORS[m.group(1)]
    return found
