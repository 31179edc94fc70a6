"""Trend Micro InterScan Messaging Security Suite (InterScan MSS) notifications.

InterScan writes either the SMTP exchange it had ("Sent <<< RCPT TO:<rcpt>" / "Received >>> 550 …")
or its own line "Unable to deliver message to <rcpt> (and other recipients in the same domain)",
which it writes when the destination refused the recipient.
"""

from __future__ import annotations

import re

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address

NAME = "TrendMicro"

_SUBJECTS = ("Mail could not be delivered", "メッセージを配信できません。", "メール配信に失敗しました")
_END = re.compile(r"^Content-type: message/rfc822", re.M | re.I)
_ANGLE_RCPT = re.compile(r"[<>]{3}[ \t]+.+<([^ <>]+@[^ <>]+)>")
_UNABLE = re.compile(r"^(?:Reason:\s+)?Unable to deliver message to <([^>]+)>")
_SENT = re.compile(r"^Sent[ \t]+<<<[ \t]+([A-Z]{4})[ \t]")
_RECEIVED = re.compile(r"^Received[ \t]+>>>[ \t]+(\d{3}[ \t]+.+)$")


def detect(mail: Mail) -> bool:
    sender = mail.sender
    if sender.startswith(('"InterScan MSS"', '"InterScan Notification"', "InterScan")):
        return True
    if "InterScan" in sender and ("Message from InterScan" in mail.text or _UNABLE.search(mail.text)):
        return True
    return mail.subject in _SUBJECTS and ("InterScan" in mail.text or "InterScan" in sender)


def decode(mail: Mail) -> list[Failure]:
    end = _END.search(mail.text)
    body = mail.text[: end.start() if end else len(mail.text)]
    out: list[Failure] = []
    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        m = _ANGLE_RCPT.search(stripped) or _UNABLE.match(stripped)
        if m:
            addr = clean_address(m.group(1))
            if addr and (not out or out[-1].recipient.lower() != addr.lower()):
                out.append(Failure(recipient=addr))
            if out and "Unable to deliver" in stripped:
                out[-1].diagnostic = stripped
                # InterScan writes this line when the remote host refused the recipient.
                out[-1].reason = "userunknown"
        if not out:
            continue
        s = _SENT.match(stripped)
        r = _RECEIVED.match(stripped)
        if s:
            out[-1].command = s.group(1)
        elif r:
            out[-1].diagnostic = r.group(1)
    return out
