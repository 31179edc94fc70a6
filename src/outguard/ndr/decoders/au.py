"""KDDI au (EZweb, au one net, dion): "Mail System Error - Returned Mail" and "Could not be delivered to".

EZweb's gateway writes a Japanese note, an English sentence naming the cause ("The user(s) account is
disabled.", "Your message was not delivered within …") and the recipient in angle brackets, sometimes
with the SMTP exchange (">>> RCPT TO:<…>" / "<<< 550 …"). au one net / dion write "Your mail sent on:
…" then "Could not be delivered to: <rcpt>" and "As their mailbox is full.". Both add an
"X-SPASIGN: NG" header when the recipient's own filter refused the message.
"""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import merge_dsn
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address
from outguard.ndr.smtptext import find_command

NAME = "au"

_EZWEB_SENDER = re.compile(r"Postmaster@(?:ezweb\.ne\.jp|au\.com)", re.I)
_KDDI_SENDER = re.compile(r"no-reply@.+\.dion\.ne\.jp", re.I)
_END = re.compile(r"^(?:Content-Type: message/rfc822|-{40,})", re.M | re.I)
_EZWEB_START = re.compile(r"^(?:The user\(s\) |Your message |Each of the following|<)")
_KDDI_START = re.compile(r"^Your mail (?:sent on:? |attempted to be delivered on:? )[A-Z][a-z]{2},")
_KDDI_RCPT = re.compile(r"^[ \t]+Could not be delivered to: <([^ >]+@[^ >]+)>", re.M)

_EZWEB_MESSAGES = (
    ("expired", ("Your message was not delivered within ",)),
    ("mailboxfull", ("The user(s) account is temporarily over quota",)),
    ("suspend", ("The user(s) account is disabled.", "The user(s) account is temporarily limited.")),
    ("onhold", ("Each of the following recipients was rejected by a remote mail server",)),
)
_KDDI_MESSAGES = (
    ("mailboxfull", ("As their mailbox is full",)),
    ("norelaying", ("Due to the following SMTP relay error",)),
    ("hostunknown", ("As the remote domain doesnt exist",)),
)


def detect(mail: Mail) -> bool:
    if _KDDI_SENDER.search(mail.sender) or mail.header("Reply-To") == "no-reply@app.auone-net.jp":
        return bool(_KDDI_RCPT.search(mail.text))
    score = 0
    if _EZWEB_SENDER.search(mail.sender):
        score += 1
    if mail.subject == "Mail System Error - Returned Mail":
        score += 1
    received = " ".join(str(v) for v in mail.msg.get_all("Received") or [])
    if "ezweb.ne.jp (EZweb Mail) with" in received or ".au.com (" in received:
        score += 1
    if re.search(r"\.(?:ezweb\.ne\.jp|au\.com)>", mail.header("Message-ID")):
        score += 1
    return score >= 2


def decode(mail: Mail) -> list[Failure]:
    end = _END.search(mail.text)
    body = mail.text[: end.start() if end else len(mail.text)]
    kddi = bool(_KDDI_RCPT.search(body))
    out = _kddi(body) if kddi else _ezweb(body)
    merge_dsn(mail, out)
    filtered = mail.header("X-SPASIGN").strip() == "NG"
    for f in out:
        f.diagnostic = " ".join(f.diagnostic.split())
        if not f.command:
            f.command = find_command(f.diagnostic)
        if filtered:
            f.reason = "filtered"
            continue
        table = _KDDI_MESSAGES if kddi else _EZWEB_MESSAGES
        for reason, phrases in table:
            if any(p in f.diagnostic for p in phrases):
                f.reason = reason
                break
    return out


def _kddi(body: str) -> list[Failure]:
    out: list[Failure] = []
    reading = False
    for line in body.split("\n"):
        if not reading:
            reading = bool(_KDDI_START.match(line))
            continue
        if not line.strip():
            continue
        m = _KDDI_RCPT.match(line)
        if m:
            out.append(Failure(recipient=clean_address(m.group(1))))
        elif out and line[:1] in " \t":
            out[-1].diagnostic += " " + line.strip()
    return [f for f in out if f.recipient]


def _ezweb(body: str) -> list[Failure]:
    out: list[Failure] = []
    lead: list[str] = []
    reading = False
    for line in body.split("\n"):
        if not reading:
            reading = bool(_EZWEB_START.match(line))
            if not reading:
                continue
        stripped = line.strip()
        if not stripped or any(ord(c) > 127 for c in stripped):
            continue
        m = re.search(r"<([^ <>]+@[^ <>]+)>", stripped)
        if m and not stripped.startswith(("<<< ", ">>> ")) and stripped.startswith(("<", "Recipient: <")):
            addr = clean_address(m.group(1))
            if addr:
                out.append(Failure(recipient=addr, diagnostic=" ".join([*lead, stripped])))
                lead = []
                continue
        if stripped.startswith(">>> "):
            if out:
                out[-1].command = find_command(stripped.replace(">>> RCPT TO", "in reply to RCPT TO"))
                out[-1].diagnostic += " " + stripped
            continue
        if out and (stripped.startswith("<<< ") or not lead):
            out[-1].diagnostic += " " + stripped
        else:
            lead.append(stripped)
    if lead and out:
        out[-1].diagnostic += " " + " ".join(lead)
    return out
