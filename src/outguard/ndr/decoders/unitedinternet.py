"""GMX and 1&1 (United Internet, "Nemesis" mail system): "Mail delivery failed: returning message to
sender", ending with "--- The header of the original message is following. ---".

Each failed address is on its own line ("addr:", "\\"addr\\":" or "<addr>"), followed by the SMTP step
("SMTP error from remote server after RCPT command:" / "… for TEXT command, host: … reason: …"),
the remote host and the remote server's reply, or by "For the following reason:" and GMX's own text.
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address
from outguard.ndr.smtptext import find_reply, find_status

NAME = "GMX"

_START = "This message was created automatically by mail delivery software"
_END = re.compile(r"^--- The header of the original message is following\. ---", re.M)
_RCPT = re.compile(r'^(?:"([^ "]+@[^ "]+)":|<([^ <>]+@[^ <>]+)>|([^ <>"]+@[^ <>":]+):?)$')
_COMMAND = re.compile(r"SMTP error .*?(?:after|for) (\w{4}) command", re.I)
_MESSAGES = (
    ("expired", ("delivery retry timeout exceeded",)),
    ("mesgtoobig", ("Mail size limit exceeded",)),
)


def detect(mail: Mail) -> bool:
    if not (_START in mail.text and _END.search(mail.text)):
        return False
    sender = mail.sender.lower()
    return bool(mail.header("X-GMX-Antispam")) or "gmx." in sender or "kundenserver" in sender


def decode(mail: Mail) -> list[Failure]:
    begin = mail.text.find(_START)
    end = _END.search(mail.text, begin)
    body = mail.text[begin : end.start() if end else len(mail.text)]
    out: list[Failure] = []
    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        m = _RCPT.match(stripped)
        addr = clean_address(next((g for g in m.groups() if g), "")) if m else ""
        if addr:
            out.append(Failure(recipient=addr))
            continue
        if not out:
            continue
        f = out[-1]
        c = _COMMAND.search(stripped)
        if c:
            word = c.group(1).upper()
            f.command = "DATA" if word == "TEXT" else word
            if " reason: " in stripped:  # 1&1: the whole story on one line
                f.diagnostic = stripped
            continue
        if stripped.lower().startswith("host:"):
            f.remote_mta = stripped[5:].strip().split()[0] if stripped[5:].strip() else None
            continue
        if stripped == "For the following reason:":
            f.diagnostic = ""
            continue
        if find_status(stripped) or find_reply(stripped) or "@" in stripped or not f.diagnostic:
            f.diagnostic = f"{f.diagnostic} {stripped}".strip()
    for f in out:
        for reason, phrases in _MESSAGES:
            if any(p in f.diagnostic for p in phrases):
                f.reason = reason
                break
    return out
