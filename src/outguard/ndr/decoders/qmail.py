"""qmail and the MTAs that copy its wording (Yahoo!, vpopmail toasters): "<rcpt>:" then the error.

qmail-send writes "Hi. This is the qmail-send program at …", one "<address>:" line per failed
recipient, and "--- Below this line is a copy of the message." before the original.
"""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import dedupe, section, split_by_recipient
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure

NAME = "qmail"

_START = re.compile(
    r"^(?:Hi\. This is the qmail|He(?:llo|i)\. This is the|I'm afraid I wasn't able to deliver|"
    r"Sorry, we were unable to deliver your message|Unfortunately, your message could not be delivered|"
    r"This is the mail delivery agent at|I tried to deliver a bounce message)",
    re.M | re.I,
)
_END = re.compile(
    r"^--- ?(?:Below this line is a copy of the message|Enclosed (?:is|are) a copy of)", re.M | re.I
)
_RCPT = re.compile(r"^<(\S*@\S+)>:?")

# qmail-remote / qmail-send wording (qmail-1.03 sources and common patches) → reason.
_MESSAGES = (
    (
        "hostunknown",
        ("sorry, i couldn't find any host named", "sorry, i couldn't find any host by that name"),
    ),
    ("userunknown", ("sorry, no mailbox here by that name",)),
    ("mailboxfull", ("mailbox is full", "over quota", "disk quota exceeded")),
    ("rejected", ("sender was rejected",)),
    ("blocked", ("but greeting failed",)),
    ("expired", ("this message has been in the queue too long",)),
    ("systemerror", ("although i'm listed as a best-preference mx", "this message is looping")),
    (
        "networkerror",
        (
            "sorry, i wasn't able to establish an smtp connection",
            "couldn't find any mx",
            "cname lookup failed",
        ),
    ),
    ("mesgtoobig", ("message is too big",)),
)
_COMMAND = re.compile(
    r"most progress was (\w+)|(?:after|for) (RCPT TO|MAIL FROM|DATA)|\[(RCPT_TO|MAIL_FROM|DATA)\]", re.I
)


def detect(mail: Mail) -> bool:
    if re.search(r"qmail \d+ invoked (?:for bounce|from network)", mail.header("Received")):
        return True
    return bool(_START.search(mail.text) and _END.search(mail.text))


def decode(mail: Mail) -> list[Failure]:
    body = section(mail.text, _START, _END)
    found = split_by_recipient(body.split("\n"), _RCPT)
    for f in found:
        low = f.diagnostic.lower()
        m = _COMMAND.search(f.diagnostic)
        if m:
            word = next(g for g in m.groups() if g).upper().replace("_", " ")
            f.command = {
                "RCPT TO": "RCPT",
                "RCPT": "RCPT",
                "MAIL FROM": "MAIL",
                "MAIL": "MAIL",
                "DATA": "DATA",
            }.get(word, "")
        if "connected to" in low and "but sender was rejected" in low:
            f.command = "MAIL"
        for reason, phrases in _MESSAGES:
            if any(p in low for p in phrases):
                f.reason = reason
                break
    return dedupe(found)
