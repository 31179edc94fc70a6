"""OpenSMTPD: "Hi! This is the MAILER-DAEMON, please DO NOT REPLY to this email." with one line per
recipient, "<address>: <error>", before "Below is a copy of the original message:".

The per-recipient line is the error (the remote reply or OpenSMTPD's own text). Its delivery-status
part gives each recipient only a summary code (5.0.0, or 4.4.7 for an expired envelope), so codes
come from the error line; the DSN adds the action (failed or delayed) and the remote host.
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address, read_dsn

NAME = "OpenSMTPD"

_START = re.compile(r"^\s*This is the MAILER-DAEMON, please DO NOT REPLY to this", re.M)
_END = re.compile(r"^\s*Below is a copy of the original message:", re.M)
_RCPT = re.compile(r"^([^ ]+?@[^ ]+?):?[ ](.+)$")
# OpenSMTPD's own texts (smtpd/mta.c, smtpd/lka.c) and what they mean.
_MESSAGES = (
    ("expired", ("Envelope expired",)),
    ("hostunknown", ("Invalid domain name", "Domain does not exist")),
    ("notaccept", ("Destination seem to reject all mails",)),
    (
        "networkerror",
        (
            "Address family mismatch on destination MXs",
            "All routes to destination blocked",
            "bad DNS lookup error code",
            "Could not retrieve source address",
            "Loop detected",
            "Network error on destination MXs",
            "No MX found for domain",
            "No MX found for destination",
            "No valid route to remote MX",
            "No valid route to destination",
            "Temporary failure in MX lookup",
        ),
    ),
    ("securityerror", ("Could not retrieve credentials",)),
)


def detect(mail: Mail) -> bool:
    received = " ".join(str(v) for v in mail.msg.get_all("Received") or [])
    return bool(_START.search(mail.text)) and ("(OpenSMTPD)" in received or "MAILER-DAEMON" in mail.sender)


def decode(mail: Mail) -> list[Failure]:
    start = _START.search(mail.text)
    if not start:
        return []
    end = _END.search(mail.text, start.end())
    body = mail.text[start.end() : end.start() if end else len(mail.text)]
    out: list[Failure] = []
    for line in body.split("\n"):
        if line[:1] in (" ", "\t"):
            continue  # OpenSMTPD indents its own sentences; the recipient lines are not indented
        m = _RCPT.match(line.strip())
        if m and clean_address(m.group(1)):
            out.append(Failure(recipient=clean_address(m.group(1)), diagnostic=m.group(2).strip()))
    if mail.dsn:
        _, in_dsn = read_dsn(mail)
        by_rcpt = {f.recipient.lower(): f for f in in_dsn}
        for f in out:
            other = by_rcpt.get(f.recipient.lower())
            if other is not None:
                f.action = other.action or f.action
                f.remote_mta = other.remote_mta
    for f in out:
        for reason, phrases in _MESSAGES:
            if any(p in f.diagnostic for p in phrases):
                f.reason = reason
                break
    return out
