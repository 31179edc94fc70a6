"""Sendmail and the MTAs that copy its notice (V5 sendmail, Active!hunter, Sendmail-based gateways).

Sendmail's human part (savemail.c) lists the failed addresses under "----- The following addresses had
permanent fatal errors -----", each optionally followed by "(reason: …)", then the SMTP exchange under
"----- Transcript of session follows -----": ">>> COMMAND" lines it sent, "<<< reply" lines it got,
and its own summary lines ("550 5.1.1 <rcpt>... User unknown", "<rcpt>... Deferred: …"). V8 sendmail
adds a message/delivery-status part; V5 sendmail and its copies do not.

`enrich` adds what the transcript says to the recipients read from a delivery-status part;
`decode` reads bounces that have no such part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from outguard.ndr.decoders._text import dedupe
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address
from outguard.ndr.smtptext import find_command, find_reply, find_status

NAME = "Sendmail"

_LIST = re.compile(r"^\s*-{3,} ?The following addresses? had (?:permanent fatal errors|delivery problems|"
                   r"transient non-fatal errors|permanent delivery errors) ?-{3,}", re.M)  # fmt: skip
_TRANSCRIPT = re.compile(r"^\s*-{3,} ?Transcript of session follows ?-{3,}", re.M)
# Biglobe's copy of the notice explains the failure in words under this heading.
_INFORMATION = re.compile(r"^\s*-{3,} ?Non-delivered information ?-{3,}", re.M)
_END = re.compile(
    r"^\s*-{3,} ?(?:Unsent message follows|Original message follows|Message header follows|"
    r"No message was collected|Returned message follows)|^Content-Type: (?:message/|text/rfc822)",
    re.M | re.I,
)
_SUMMARY = re.compile(r"^(\d{3})[ \t]+(?:\d\.\d{1,3}\.\d{1,3}[ \t]+)?<([^ <>]+@[^ <>]+)>\.{3}[ \t]*(.*)$")
_DEFERRED = re.compile(r"^<([^ <>]+@[^ <>]+)>\.{3}[ \t]*(.+)$")
_OTHER = re.compile(r"^\d{3}[ \t]+\S.*?\.{3}[ \t]*(.+)$")
_TO = re.compile(r"^To:[ \t]*(.+)$", re.M)
_WHILE_TALKING = re.compile(r"^\.{3} while talking to .+:$")


@dataclass
class _Entry:
    address: str
    diagnostic: str = ""
    command: str = ""


@dataclass
class Transcript:
    """What Sendmail's human-readable part says."""

    listed: list[_Entry] = field(default_factory=list)  # "following addresses" list, with "(reason: …)"
    summaries: list[_Entry] = field(default_factory=list)  # "550 <rcpt>... text" lines of the transcript
    replies: list[str] = field(default_factory=list)  # "<<< …" lines: what the remote server said
    command: str = ""  # the first ">>> COMMAND" Sendmail sent
    other: str = ""  # error lines not about one recipient ("<rcpt>... Deferred: …", "554 5.3.0 …")
    other_status: str = ""


def detect(mail: Mail) -> bool:
    return bool(_TRANSCRIPT.search(mail.text) or _LIST.search(mail.text))


def read(text: str) -> Transcript:
    """Parse Sendmail's notice: the list of failed addresses and the session transcript."""
    out = Transcript()
    end = _END.search(text)
    body = text[: end.start() if end else len(text)]
    mode = ""
    commands: list[str] = []  # ">>> X" per summary line that follows it
    pending_reply: list[str] = []
    session_error = False
    for raw in body.split("\n"):
        line = raw.rstrip()
        if _LIST.match(line):
            mode = "list"
            continue
        if _TRANSCRIPT.match(line):
            mode = "transcript"
            continue
        if _INFORMATION.match(line):
            mode = "information"
            continue
        stripped = line.strip()
        if not stripped or not mode:
            continue
        if mode == "information":
            if out.listed:
                out.listed[-1].diagnostic = f"{out.listed[-1].diagnostic} {stripped}".strip()
            continue
        if mode == "list":
            low = stripped.lower()
            if low.startswith("(reason:") and out.listed:
                out.listed[-1].diagnostic = stripped[8:].rstrip(")").strip()
            elif low.startswith("(expanded from:") and out.listed:
                addr = clean_address(stripped)
                if addr and "@" not in out.listed[-1].address:
                    out.listed[-1].address = addr
            else:
                addr = clean_address(stripped.split(">>>")[-1])
                out.listed.append(_Entry(addr or stripped.strip('"')))
            continue
        # The transcript.
        if stripped.startswith(">>>"):
            word = find_command(">>> " + stripped[3:].strip())
            commands.append(word)
            if not out.command:
                out.command = word
            continue
        if stripped.startswith("<<<"):
            reply = stripped[3:].strip()
            pending_reply.append(reply)
            if reply not in out.replies:
                out.replies.append(reply)
            continue
        m = _SUMMARY.match(stripped)
        if m and line[0] not in " \t":
            entry = _Entry(m.group(2), m.group(3))
            if pending_reply:
                entry.diagnostic = f"{entry.diagnostic}: {pending_reply[-1]}"
            entry.command = commands[-1] if commands else ""
            if find_status(stripped):
                entry.diagnostic = f"{m.group(1)} {find_status(stripped)} {entry.diagnostic}"
            out.summaries.append(entry)
            pending_reply = []
            commands = []
            continue
        if session_error or line[0] in " \t":
            continue
        if _WHILE_TALKING.match(stripped):
            # "... while talking to host:": what follows is that session's exchange.
            session_error = True
            continue
        d = _DEFERRED.match(stripped)
        if d:
            out.other = d.group(2)
            continue
        if find_reply(stripped) and find_status(stripped):
            out.other_status = out.other_status or find_status(stripped)
            out.other = f"{out.other} {stripped}".strip()
            continue
        o = _OTHER.match(stripped)
        if o and not out.other:
            out.other = o.group(1)
        elif not out.other and re.match(r"^[245]\d\d[ -]", stripped):
            out.other = stripped  # a bare reply ("550 <rcpt>: Recipient address rejected: …")
        elif stripped.startswith(("Message: ", "Warning: ")):
            out.other = f"{out.other} {stripped}".strip()
    return out


def decode(mail: Mail) -> list[Failure]:
    """A Sendmail-style notice without a delivery-status part."""
    t = read(mail.text)
    found: list[Failure] = []
    summaries = {e.address.lower(): e for e in t.summaries}
    for entry in t.listed + t.summaries:
        if "@" not in entry.address:
            continue
        s = summaries.get(entry.address.lower())
        diag = (s.diagnostic if s else "") or entry.diagnostic
        command = s.command if s else ""
        if not diag and len(t.replies) and not t.summaries:
            diag = t.replies[-1]
        found.append(Failure(recipient=entry.address, diagnostic=diag or t.other, command=command))
    if not found and (t.other or t.replies):
        to = clean_address(mail.original_header("To"))
        if not to:
            # The returned message follows the notice as text ("----- Unsent message follows -----").
            end = _END.search(mail.text)
            m = _TO.search(mail.text, end.end() if end else 0)
            to = clean_address(m.group(1)) if m else ""
        if to:
            found.append(Failure(recipient=to, diagnostic=t.other or " ".join(t.replies)))
    found = dedupe(found)
    for f in found:
        if not f.command:
            f.command = t.command if len(found) == 1 else ""
    return found


def enrich(mail: Mail, found: list[Failure]) -> None:
    """Add what Sendmail's transcript says to the recipients of its delivery-status part."""
    t = read(mail.text)
    for f in found:
        if f.recipient.startswith("@") or "@" not in f.recipient:
            # "Final-Recipient: RFC822; @host": the address is in the transcript.
            for e in t.summaries + t.listed:
                if "@" in e.address:
                    f.recipient = e.address
                    break
        diag = f.diagnostic.strip()
        if t.other and (not diag or diag.isdigit()):
            f.diagnostic = t.other
        if t.other_status and (not f.status or f.status.endswith(".0.0")):
            f.status = t.other_status
        if t.replies and len(found) == 1:
            if not f.diagnostic.strip():
                f.diagnostic = " ".join(t.replies)
            else:
                # The Diagnostic-Code field often keeps only the first line of a multi-line reply.
                whole = _whole_reply(t.replies, f.diagnostic)
                if len(whole) > len(f.diagnostic):
                    f.diagnostic = whole
        if not f.command:
            f.command = t.command or find_command(f.diagnostic)
        if not f.command and t.replies:
            # A reply with no command sent: the server refused the connection or the greeting.
            f.command = "EHLO"


def _whole_reply(replies: list[str], first: str) -> str:
    """The complete multi-line reply ("550-…" lines up to "550 …") that begins with `first`."""
    head = " ".join(first.split())
    for i, reply in enumerate(replies):
        if " ".join(reply.split()) != head:
            continue
        lines = [reply]
        for nxt in replies[i + 1 :]:
            if not re.match(r"^[245]\d\d-", lines[-1]):
                break
            lines.append(nxt)
        return " ".join(lines)
    return first
