"""Postfix's "SMTP server: errors from <client>" notice to the postmaster (notify_classes).

The body is the SMTP session Postfix's smtpd had with a client, "In:" lines for what the client
sent and "Out:" lines for what Postfix answered; the recipients are the RCPT TO arguments, and the
error is the first 4xx/5xx answer after them.
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address
from outguard.ndr.smtptext import find_command

NAME = "Postfix"

_SUBJECT = re.compile(r" SMTP server: errors from ")
_LINE = re.compile(r"^ (In|Out):\s+(.*)$")


def detect(mail: Mail) -> bool:
    return bool(_SUBJECT.search(mail.subject)) and "Transcript of session follows" in mail.text


def decode(mail: Mail) -> list[Failure]:
    # Join continuation lines (indented further) to the "In:"/"Out:" line they continue.
    exchange: list[list[str]] = []
    for line in mail.text.split("\n"):
        m = _LINE.match(line)
        if m:
            exchange.append([m.group(1), m.group(2).strip()])
        elif exchange and line.startswith("     ") and line.strip():
            exchange[-1][1] += " " + line.strip()
    out: list[Failure] = []
    command = ""
    for side, text in exchange:
        if side == "In":
            command = find_command(">>> " + text)
            m = re.match(r"^RCPT\s+TO:\s*<?([^\s>]+)>?", text, re.I)
            if m and clean_address(m.group(1)):
                out.append(Failure(recipient=clean_address(m.group(1))))
            continue
        code = text[:3]
        if code.isdigit() and code[0] in "45" and out and not out[-1].diagnostic:
            out[-1].diagnostic = text
            out[-1].command = command
    return [f for f in out if f.diagnostic]
