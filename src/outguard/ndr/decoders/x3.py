"""A gateway's "Delivery status notification" ("This is an automatically generated Delivery Status
Notification."): failed recipients as "   * address", the cause under "Technical details:" as
"SMTP:<COMMAND> host <ip>: <reply>", "Routing: <text>" or "Diagnostic-Code: smtp; <reply>"."""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "X3"

_START = "This is an automatically generated Delivery Status Notification."
_END = re.compile(r"^Content-Type: message/", re.M | re.I)
_RCPT = re.compile(r"^[ \t]+\*[ \t](\S+@\S+)\s*$")
_SMTP = re.compile(r"^SMTP:(\S+)[ \t](.+)$")
_ROUTING = re.compile(r"^Routing: (.+)$")
_DIAGNOSTIC = re.compile(r"^Diagnostic-Code: smtp; (.+)$", re.I)


def detect(mail: Mail) -> bool:
    return (
        mail.sender.startswith("Mail Delivery System")
        and mail.subject.startswith("Delivery status notification")
        and _START in mail.text
    )


def decode(mail: Mail) -> list[Failure]:
    begin = mail.text.find(_START)
    end = _END.search(mail.text, begin)
    body = mail.text[begin : end.start() if end else len(mail.text)]
    out: list[Failure] = []
    for line in body.split("\n"):
        m = _RCPT.match(line)
        if m and clean_address(m.group(1)):
            out.append(Failure(recipient=clean_address(m.group(1))))
            continue
        if not out:
            continue
        s = _SMTP.match(line)
        if s:
            out[-1].command = s.group(1).upper()[:4]
            out[-1].diagnostic = s.group(2)
            continue
        r = _ROUTING.match(line) or _DIAGNOSTIC.match(line)
        if r:
            out[-1].diagnostic = r.group(1)
    return out
