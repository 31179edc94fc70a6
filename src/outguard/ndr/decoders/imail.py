"""Ipswitch IMail Server (SMTP32): "Undeliverable Mail" with "<error>: <address>" lines.

IMail writes one line per failed recipient, "Unknown user: bob@example.net" or "undeliverable to
bob@example.net" (then the remote reply after "Body of message generated response:"), and the
original after "Original message follows.".
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "IMail"

_END = re.compile(r"^Original message follows\.", re.M)
_ERROR_LINE = re.compile(r"^(\S+ [^:@]+?):[ \t]*(\S+@\S+)")
_UNDELIVERABLE = re.compile(r"^undeliverable +to +(\S+@\S+)", re.I)
_RESPONSE = "Body of message generated response:"

# Which SMTP command the quoted response answered, as IMail introduces it.
_COMMANDS = (
    ("CONN", ("SMTP connection failed,", "Unexpected connection response from server:")),
    ("EHLO", ("Unexpected response to EHLO/HELO:",)),
    ("MAIL", ("Server response to MAIL FROM:",)),
    ("RCPT", ("Additional RCPT TO generated following response:",)),
    ("DATA", ("DATA command generated response:",)),
)
# IMail's own texts (start of the error) and what they mean.
_MESSAGES = (
    ("hostunknown", re.compile(r"Unknown host")),
    ("userunknown", re.compile(r"^(?:Unknown user|Invalid final delivery userid)")),
    ("mailboxfull", re.compile(r"^User mailbox exceeds allowed size")),
    ("virusdetected", re.compile(r"^Requested action not taken: virus detected")),
    ("expired", re.compile(r"^Delivery failed \d+ attempts")),
)


def detect(mail: Mail) -> bool:
    if mail.header("X-Mailer").startswith("<SMTP32 v"):
        return True
    return mail.subject.strip() == "Undeliverable Mail" and bool(_END.search(mail.text))


def decode(mail: Mail) -> list[Failure]:
    end = _END.search(mail.text)
    body = mail.text[: end.start() if end else len(mail.text)]
    out: list[Failure] = []
    own: list[str] = []  # IMail's own error text, per recipient
    response: list[list[str]] = []  # the remote server's reply that IMail quotes, per recipient
    for line in body.split("\n"):
        stripped = line.strip()
        m = _ERROR_LINE.match(stripped)
        u = None if m else _UNDELIVERABLE.match(stripped)
        addr = clean_address(m.group(2) if m else u.group(1) if u else "")
        if addr:
            out.append(Failure(recipient=addr))
            own.append(m.group(1) if m else "")
            response.append([])
            continue
        if out and stripped and (response[-1] or _RESPONSE in stripped):
            response[-1].append(stripped)
    for f, mine, quoted in zip(out, own, response, strict=True):
        f.diagnostic = " ".join([*quoted, mine]).strip()
        for command, phrases in _COMMANDS:
            if any(p in f.diagnostic for p in phrases):
                f.command = command
                break
        if quoted:
            continue  # the quoted reply decides, read by the shared rules
        for reason, rule in _MESSAGES:
            if rule.search(mine):
                f.reason = reason
                break
    return out
