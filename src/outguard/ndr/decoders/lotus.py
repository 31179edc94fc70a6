"""IBM/HCL Domino and Lotus Notes: "DELIVERY FAILURE:" and "Undeliverable message" notes.

Domino writes "Your message / Subject: … / was not delivered to: / <address> / because: / <reason>",
indented two spaces; the older Notes SMTP gateway writes "------- Failure Reasons --------", the
reason and the address on their own lines, then "------- Returned Message --------". Neither carries
an enhanced status code in the text; the directory wording names the cause.
"""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import merge_dsn
from outguard.ndr.mail import Mail
from outguard.ndr.parse import ADDRESS, Failure, clean_address

NAME = "Domino"

_DOMINO_SUBJECT = re.compile(r"^DELIVERY[ _]FAILURE:")
_NOTES_SUBJECT = re.compile(r"^Undeliverable message")
_NOTES_START = re.compile(r"^-{5,}\s*Failure Reasons\s*-{5,}", re.M)
_NOTES_END = re.compile(r"^-{5,}\s*Returned Message\s*-{5,}", re.M)

# The directory lookup texts Domino and Notes write (English, French, Japanese builds).
_MESSAGES = (
    (
        "userunknown",
        (
            "not listed in Domino Directory",
            "not listed in public Name & Address Book",
            "non répertorié dans l'annuaire Domino",
            "Domino ディレクトリには見つかりません",
        ),
    ),
    ("filtered", ("Cannot route mail to user",)),
    ("systemerror", ("Several matches found in Domino Directory",)),
    ("networkerror", ("Message has exceeded maximum hop count",)),
)


def detect(mail: Mail) -> bool:
    if _DOMINO_SUBJECT.match(mail.subject):
        return "was not delivered to:" in mail.text
    return bool(_NOTES_SUBJECT.match(mail.subject) and _NOTES_START.search(mail.text))


def decode(mail: Mail) -> list[Failure]:
    found = _domino(mail) if _DOMINO_SUBJECT.match(mail.subject) else _notes(mail)
    merge_dsn(mail, found, diagnostic=True)  # a Domino report may carry a delivery-status part too
    for f in found:
        for reason, phrases in _MESSAGES:
            if any(p in f.diagnostic for p in phrases):
                f.reason = reason
                break
    return found


def _domino(mail: Mail) -> list[Failure]:
    out: list[Failure] = []
    state = ""
    for line in mail.text.split("\n"):
        stripped = line.strip()
        if stripped == "was not delivered to:":
            state = "rcpt"
            continue
        if stripped == "because:":
            state = "why"
            continue
        if not stripped:
            continue
        if state == "rcpt":
            addr = clean_address(stripped)
            if addr:
                out.append(Failure(recipient=addr))
            continue
        if state == "why" and out:
            out[-1].diagnostic = stripped
            state = ""
    return out


def _notes(mail: Mail) -> list[Failure]:
    start = _NOTES_START.search(mail.text)
    if not start:
        return []
    end = _NOTES_END.search(mail.text, start.end())
    body = mail.text[start.end() : end.start() if end else len(mail.text)]
    out: list[Failure] = []
    pending: list[str] = []
    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("-"):
            continue
        m = ADDRESS.match(stripped)
        if m:
            out.append(Failure(recipient=m.group(0), diagnostic=" ".join(pending)))
            pending = []
        else:
            pending.append(stripped)
    if pending and out:
        out[-1].diagnostic = " ".join([out[-1].diagnostic, *pending]).strip()
    if not out:
        to = clean_address(mail.original_header("To"))
        if to:
            out.append(Failure(recipient=to, diagnostic=" ".join(pending)))
    return out
