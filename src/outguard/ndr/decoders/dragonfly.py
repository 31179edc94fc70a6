"""DragonFly Mail Agent (dma): "There was an error delivering your mail to <rcpt>."."""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import section
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "DragonFly"

_START = re.compile(r"^This is the DragonFly Mail Agent", re.M)
_END = re.compile(r"^Message headers follow\.", re.M)
_RCPT = re.compile(r"There was an error delivering your mail to <([^>]+)>")
# dma's own texts (dma.c, net.c) and what they mean.
_MESSAGES = (
    ("expired", "Could not deliver for the last "),
    ("hostunknown", "DNS lookup failure: host "),
)
_COMMAND = re.compile(r"did not like our (final DATA|DATA|RCPT TO|MAIL FROM|EHLO|HELO)", re.I)


def detect(mail: Mail) -> bool:
    return "DragonFly Mail Agent" in mail.text[:2000] or "DragonFly Mail Agent" in mail.header("Received")


def decode(mail: Mail) -> list[Failure]:
    body = section(mail.text, _START, _END)
    out = []
    for m in _RCPT.finditer(body):
        rest = body[m.end() :]
        nxt = _RCPT.search(rest)
        diag = rest[: nxt.start() if nxt else len(rest)]
        f = Failure(recipient=clean_address(m.group(1)), diagnostic=" ".join(diag.split()).lstrip(". "))
        c = _COMMAND.search(diag)
        if c:
            word = c.group(1).upper()
            f.command = "DATA" if "DATA" in word else word.split()[0].replace("RCPT", "RCPT")
        for reason, phrase in _MESSAGES:
            if phrase in f.diagnostic:
                f.reason = reason
                break
        if f.recipient:
            out.append(f)
    return out
