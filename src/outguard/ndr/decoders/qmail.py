"""qmail and the MTAs that copy its notice (Yahoo!, vpopmail/LDAP toasters, notqmail, X2-style gateways).

qmail-send writes "Hi. This is the qmail-send program at …", one "<address>:" line per failed
recipient followed by its error, and "--- Below this line is a copy of the message." before the
original. qmail-remote's own sentences say which SMTP step failed ("Connected to … but sender was
rejected.", "… does not like recipient.", "… failed on DATA command."); the remote reply follows
"Remote host said:".
"""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import dedupe
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address
from outguard.ndr.smtptext import find_command

NAME = "qmail"

_START = re.compile(
    r"Hi\. This is the qmail|He/Her is not |unable to deliver your message to the following addresses|"
    r"Su mensaje no pudo ser entregado|Sorry, we were unable to deliver your message to the following address|"
    r"This is the machine generated message from mail service|This is the mail delivery agent at|"
    r"Unable to deliver message to the following address|"
    r"Unfortunately, your mail was not delivered to the following address:|"
    r"Your mail message to the following address|Your message to the following addresses|^We're sorry\.",
    re.M | re.I,
)
_END = re.compile(
    r"^--- ?(?:Below this line is a copy of the (?:message|mail header)|Below the next line is a copy of the "
    r"message|Mensaje original adjunto|Original message follows|Enclosed (?:is|are) a copy of)|"
    r"^Content-Type: message/rfc822|^Original message follows\.",
    re.M | re.I,
)
_RCPT = re.compile(r"^(?:To\s*:)?<([^ <>]+@[^ <>]+)>:\s*(.*)$")
_SUBJECTS = ("failure notice", "Failure Notice")

# qmail-remote.c: the sentence names the SMTP step that failed.
_COMMANDS = (
    ("CONN", (" but greeting failed.",)),
    ("EHLO", (" but my name was rejected.",)),
    ("MAIL", (" but sender was rejected.",)),
    ("RCPT", (" does not like recipient.",)),
    ("DATA", (" failed on DATA command", " failed after I sent the message")),
)
_EXPIRED = "this message has been in the queue too long."
# qmail's own texts (qmail-local.c, qmail-remote.c, error_str.c, notqmail) and what they mean.
_MESSAGES = (
    ("hostunknown", ("Sorry, I couldn't find any host ",)),
    ("mailboxfull", ("disk quota exceeded",)),
    ("mesgtoobig", ("Message size exceeds fixed maximum message size:",)),
    (
        "networkerror",
        (
            "Sorry, I wasn't able to establish an SMTP connection",
            "Sorry. Although I'm listed as a best-preference MX or A for that host",
        ),
    ),
    # notqmail answers so when the destination publishes a null MX.
    ("notaccept", ("Sorry, I couldn't find a mail exchanger or IP address",)),
    ("systemerror", ("bad interpreter: No such file or directory", "system error", "Unable to")),
    ("systemfull", ("Requested action not taken: mailbox unavailable (not enough free space)",)),
    ("userunknown", ("no mailbox here by that name",)),
)
# qmail-ldap patch texts.
_LDAP = (
    ("exceedlimit", ("The message exeeded the maximum size the user accepts",)),
    (
        "suspend",
        (
            "Mailaddress is administrativly disabled",
            "Mailaddress is administrativley disabled",
            "Mailaddress is administratively disabled",
            "Mailaddress is administrativeley disabled",
        ),
    ),
    (
        "systemerror",
        (
            "Automatic homedir creator crashed",
            "Illegal value in LDAP attribute",
            "LDAP attribute is not given but mandatory",
            "Timeout while performing search on LDAP server",
            "Too many results returned but needs to be unique",
            "Permanent error while executing qmail-forward",
            "Temporary error in automatic homedir creation",
            "Temporary error while executing qmail-forward",
            "Temporary failure in LDAP lookup",
            "Unable to contact LDAP server",
            "Unable to login into LDAP server, bad credentials",
        ),
    ),
    ("userunknown", ("Sorry, no mailbox here by that name",)),
)


def detect(mail: Mail) -> bool:
    received = " ".join(str(v) for v in mail.msg.get_all("Received") or [])
    if mail.subject in _SUBJECTS or "(qmail " in received:
        return bool(_START.search(mail.text))
    return bool(_START.search(mail.text) and _END.search(mail.text))


def decode(mail: Mail) -> list[Failure]:
    start = _START.search(mail.text)
    if not start:
        return []
    end = _END.search(mail.text, start.end())
    body = mail.text[mail.text.find("\n", start.end()) + 1 : end.start() if end else len(mail.text)]
    found: list[Failure] = []
    remote: list[str] = []  # the "Remote host said:" line of each recipient
    for line in body.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        m = _RCPT.match(stripped)
        if m and clean_address(m.group(1)):
            found.append(Failure(recipient=clean_address(m.group(1)), diagnostic=m.group(2)))
            remote.append("")
            continue
        if not found:
            continue
        found[-1].diagnostic = f"{found[-1].diagnostic} {stripped}".strip()
        if stripped.startswith("Remote host said:"):
            remote[-1] = stripped
    received = " ".join(str(v) for v in mail.msg.get_all("Received") or [])
    own = mail.subject in _SUBJECTS or "(qmail " in received  # written by qmail itself, not a look-alike
    for f, said in zip(found, remote, strict=True):
        _classify(f, said, own)
    return dedupe(found)


def _classify(f: Failure, said: str, own: bool) -> None:
    diag = f.diagnostic
    for command, phrases in _COMMANDS:
        if any(p in diag for p in phrases):
            f.command = command
            break
    if not f.command and "no SMTP connection got far enough" in diag:
        m = re.search(r"most progress was (RCPT TO|MAIL FROM|DATA|\w+)", diag)
        f.command = find_command(f"in reply to {m.group(1)}") if m else ""
    if f.command in ("EHLO", "HELO"):
        f.reason = "blocked"
        return
    if not own:
        f.command = f.command or find_command(diag)
        return
    if " does not like recipient." in diag and _EXPIRED in diag:
        f.reason = "onhold"  # the remote reply decides
        return
    for text in (said, diag):
        if not text:
            continue
        for table in (_MESSAGES, _LDAP):
            for reason, phrases in table:
                if any(p in text for p in phrases):
                    f.reason = reason
                    return
        if _EXPIRED in text:
            f.reason = "expired"
            return
    if not f.command:
        f.command = find_command(diag)
