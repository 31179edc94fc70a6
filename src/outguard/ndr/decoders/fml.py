"""fml (a Japanese mailing-list manager): notices from "<list>-admin@" about a post it refused.

The note names the affected address in angle brackets at the end of a sentence; the wording (or
the subject) says why: a post from a non-member, a loop, a security alert.
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "fml"

_END = re.compile(r"^Original mail as follows:", re.M)
_RCPT = re.compile(r"<([^ <>]+?@[^ <>]+?)>\.$")
_TEXT = (
    (
        "rejected",
        re.compile(
            r"(?:Ignored )*NOT MEMBER article from |reject (?:mail from .+@.+|since .+ header may cause mail loop|"
            r"spammers:)|You are not a member of this mailing list"
        ),
    ),
    (
        "systemerror",
        re.compile(r"Duplicated Message-ID|fml .+ has detected a loop condition so that|Loop Back Warning:"),
    ),
    ("securityerror", re.compile(r"Security alert:")),
)
_SUBJECT = (
    (
        "rejected",
        re.compile(
            r"(?:Ignored )*NOT MEMBER article from |reject mail (?:.+:|from) |Spam mail from a spammer is rejected|"
            r"You .+ are not member"
        ),
    ),
    (
        "systemerror",
        re.compile(r"fml system error message|Loop Alert: |Loop Back Warning: |WARNING: UNIX FROM Loop"),
    ),
    ("securityerror", re.compile(r"Security Alert")),
)


def detect(mail: Mail) -> bool:
    if not re.search(r".+-admin@.+", mail.sender):
        return False
    return bool(mail.header("X-MLServer")) or bool(re.match(r"<\d+\.FML", mail.header("Message-ID")))


def decode(mail: Mail) -> list[Failure]:
    end = _END.search(mail.text)
    body = mail.text[: end.start() if end else len(mail.text)]
    out: list[Failure] = []
    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        m = _RCPT.search(stripped)
        if m and clean_address(m.group(1)):
            out.append(Failure(recipient=clean_address(m.group(1)), diagnostic=stripped))
        elif out:
            out[-1].diagnostic += " " + stripped
    for f in out:
        f.reason = next((r for r, rule in _TEXT if rule.search(f.diagnostic)), "") or next(
            (r for r, rule in _SUBJECT if rule.search(mail.subject)), ""
        )
    return out
