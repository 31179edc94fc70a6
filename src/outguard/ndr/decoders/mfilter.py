"""Digital Arts m-FILTER: "failure notice" with "-------server message" and "-------SMTP command".

The note (usually Japanese) lists the failed address on its own line, then the remote server's reply
under "-------server message" and the SMTP command it answered under "-------SMTP command".
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "mFILTER"

_END = re.compile(r"^-------original (?:message|mail info)", re.M)
_BARE_ADDRESS = re.compile(r"^[^ ]+@[^ ]+\.[a-zA-Z]+$")


def detect(mail: Mail) -> bool:
    return mail.header("X-Mailer") == "m-FILTER"


def decode(mail: Mail) -> list[Failure]:
    end = _END.search(mail.text)
    body = mail.text[: end.start() if end else len(mail.text)]
    out: list[Failure] = []
    section = ""
    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if _BARE_ADDRESS.match(stripped):
            addr = clean_address(stripped)
            if addr:
                out.append(Failure(recipient=addr))
                section = ""
            continue
        if stripped == "-------server message":
            section = "error"
            continue
        if stripped == "-------SMTP command":
            section = "command"
            continue
        if not out or stripped.startswith("-"):
            continue
        if section == "error" and not out[-1].diagnostic:
            out[-1].diagnostic = stripped
        elif section == "command" and not out[-1].command and re.match(r"^[A-Z]{4}", stripped):
            out[-1].command = stripped[:4]
    return out
