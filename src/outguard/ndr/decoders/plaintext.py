"""Any other bounce written in words: a mailer-daemon message naming the failed addresses in its text.

Many MTAs, filters and gateways that have no decoder of their own write a short note: a line about the failure, the address, the remote server's reply, then the original
message. This decoder cuts the note off before the original and takes the addresses it names, with the
lines around each as its error text. It runs after the specific decoders.
"""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import dedupe
from outguard.ndr.mail import Mail
from outguard.ndr.parse import ADDRESS, Failure, clean_address

NAME = "PlainText"

_BOUNCER = re.compile(
    r"mailer-daemon|postmaster|mail delivery|mail administrator|mmdf|mail system|daemon", re.I
)
_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status|fail|notification|problem|report)|failure|failed|returned mail|"
    r"non.?delivery|bounce|mail error|error|could not|not delivered|rejected|warning",
    re.I,
)
# Where the returned original starts; the note is what comes before.
_ORIGINAL = re.compile(
    r"^\s*-{2,}[ -]*(?:original message|original mail|this is a copy|below this line|the (?:original )?header"
    r"|returned message|forwarded message|message headers follow|unsent message|copy of the message|"
    r"the body of the message|header of the original|undelivered message|original text)"
    r"|^(?:Content-Type: message/rfc822|Return-Path: |Received: from |Message-Id: |From: .*\n(?:.*\n)?To: )",
    re.I | re.M,
)


def detect(mail: Mail) -> bool:
    return bool(
        _BOUNCER.search(mail.sender) or _SUBJECT.search(mail.subject) or mail.header("X-Failed-Recipients")
    )


def decode(mail: Mail) -> list[Failure]:
    text = mail.text
    cut = _ORIGINAL.search(text)
    note = text[: cut.start()] if cut else text
    if not note.strip():
        return []
    skip = {
        a
        for a in (
            clean_address(mail.header("To")),
            clean_address(mail.sender),
            clean_address(mail.original_header("From")),
            clean_address(mail.original_header("Return-Path")),
        )
        if a
    }
    skip = {a.lower() for a in skip}
    failed = [a for a in (clean_address(p) for p in mail.header("X-Failed-Recipients").split(",")) if a]
    found: list[Failure] = []
    lines = note.split("\n")
    for i, line in enumerate(lines):
        for m in ADDRESS.finditer(line):
            addr = m.group(0).strip(".")
            low = addr.lower()
            if low in skip or low.startswith(("postmaster@", "mailer-daemon@", "root@")):
                continue
            if failed and low not in {f.lower() for f in failed}:
                continue
            # The address's own line (without it) and what follows, to the next blank line.
            block = [(line[: m.start()] + " " + line[m.end() :]).strip(" <>:;,.()\t")]
            for nxt in lines[i + 1 :]:
                if not nxt.strip() or ADDRESS.search(nxt):
                    break
                block.append(nxt.strip())
            if len(" ".join(block)) < 40:
                # The error came before the address ("… could not be delivered to:").
                block = [x.strip() for x in lines[max(0, i - 3) : i] if x.strip()] + block
            found.append(Failure(recipient=addr, diagnostic=" ".join(b for b in block if b)))
    if not found and failed:
        found = [Failure(recipient=a, diagnostic=" ".join(note.split())[:1000]) for a in failed]
    return dedupe(found)
