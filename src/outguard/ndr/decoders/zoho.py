"""Zoho Mail: "This message was created automatically by mail delivery software." with one line per
failed recipient, "<address> <error>" (or "[Status: …, <address>, …]"), ahead of the original."""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "Zoho"

_START = "This message was created automatically by mail delivery"
_END = re.compile(r"^Received:\s*from mail\.zoho\.com by mx\.zohomail\.com|^Received:\s*from ", re.M)
_RCPT = re.compile(r"^([^ ]+@[^ ]+)[ \t]+(.+)$")
_STATUS = re.compile(r"^\[Status: .+<([^ ]+@[^ ]+)>,")
_MESSAGES = (("expired", ("Host not reachable",)),)


def detect(mail: Mail) -> bool:
    return bool(mail.header("X-ZohoMail")) and _START in mail.text


def decode(mail: Mail) -> list[Failure]:
    begin = mail.text.find(_START)
    end = _END.search(mail.text, begin)
    body = mail.text[begin : end.start() if end else len(mail.text)]
    out: list[Failure] = []
    for line in body.split("\n")[1:]:
        stripped = line.strip()
        m = _RCPT.match(stripped)
        s = _STATUS.match(stripped)
        if s and clean_address(s.group(1)):
            out.append(Failure(recipient=clean_address(s.group(1)), diagnostic=stripped))
        elif m and clean_address(m.group(1)):
            out.append(Failure(recipient=clean_address(m.group(1)), diagnostic=m.group(2)))
    for f in out:
        for reason, phrases in _MESSAGES:
            if any(p in f.diagnostic for p in phrases):
                f.reason = reason
    return out
