"""Exim: "This message was created automatically by mail delivery software." (exim/src/deliver.c).

Failed addresses are indented two spaces, each followed by its error indented four; the SMTP phase
is in "SMTP error from remote mail server after RCPT TO:…".
"""

from __future__ import annotations

import re

from outguard.ndr.decoders._text import dedupe, section
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address, read_dsn

NAME = "Exim"

_SUBJECT = re.compile(
    r"mail delivery failed|warning: message \S+ delayed|delivery status notification|mail failure|"
    r"message frozen|error\(s\) in forwarding or filtering",
    re.I,
)
_START = re.compile(
    r"^(?:A message that you sent (?:could not be delivered|was rejected|contained one or more)|"
    r"could not be delivered to one or more of its recipients|"
    r"This message was created automatically by mail delivery software|"
    r"Message \S+ (?:has been frozen|was frozen on arrival)|"
    r"The \S+ router encountered the following error)",
    re.M | re.I,
)
_END = re.compile(
    r"^-+ ?This is a copy of (?:the|your) message|^-+ ?The body of the message is|"
    r"^-+ ?This is a copy of the (?:body|message's headers)|^Content-Type: *message/rfc822",
    re.M | re.I,
)
_RCPT = re.compile(r"^ {1,4}(\S+@\S+?|pipe to \|.+|save to \S+|/\S+|\S+)\s*(?::\s*(.*))?$")
_INDENTED = re.compile(r"^(?: {4,}|\t)\S")
_COMMAND = re.compile(
    r"(?:SMTP|LMTP) error (?:from remote (?:mail server|mailer) )?after (?:end of )?(\w{4})", re.I
)

# Exim's own error texts (exim/src: route.c, transports/*.c, deliver.c) and the reason each means.
_MESSAGES = (
    ("userunknown", ("user not found",)),
    (
        "hostunknown",
        (
            "all host address lookups failed permanently",
            "all relevant mx records point to non-existent hosts",
            "unrouteable address",
        ),
    ),
    ("mailboxfull", ("mailbox is full", "error: quota exceed")),
    (
        "notaccept",
        ("an mx or srv record indicated no smtp service", "no host found for existing smtp connection"),
    ),
    (
        "syntaxerror",
        (
            "angle-brackets nested too deep",
            'expected word or "<"',
            "domain missing in source-routed address",
            "malformed address:",
        ),
    ),
    (
        "systemerror",
        (
            "delivery to file forbidden",
            "delivery to pipe forbidden",
            "local delivery failed",
            "lmtp error after ",
        ),
    ),
    ("contenterror", ('too many "received" headers',)),
)
_DELAYED = (
    "retry timeout exceeded",
    "no action is required on your part",
    "retry time not reached for any host after a long failure period",
    "all hosts have been failing for a long time and were last tried",
    "delay reason: ",
    "has been frozen",
    "was frozen on arrival",
)


def detect(mail: Mail) -> bool:
    score = 0
    if mail.sender.startswith("Mail Delivery System"):
        score += 1
    if re.match(r"<\w{6}-\w{6}-\w{2}@", mail.header("Message-ID")):
        score += 1
    if _SUBJECT.search(mail.subject):
        score += 1
    if "This message was created automatically by mail delivery software" in mail.text:
        score += 1
    return score >= 2


def decode(mail: Mail) -> list[Failure]:
    body = section(mail.text, _START, _END)
    found: list[Failure] = []
    for line in body.split("\n"):
        if not line.strip():
            continue
        if _INDENTED.match(line) and found:
            found[-1].diagnostic = f"{found[-1].diagnostic} {line.strip()}".strip()
            continue
        m = _RCPT.match(line)
        if m and not _INDENTED.match(line):
            target = m.group(1)
            addr = clean_address(target)
            # "pipe to |/usr/bin/…" or a file: the address it was generated from is on the next line.
            if not addr and (found or "@" not in line):
                continue
            found.append(Failure(recipient=addr or target, diagnostic=(m.group(2) or "").strip()))
    found = [f for f in found if "@" in f.recipient]
    if mail.dsn:
        reporting, in_dsn = read_dsn(mail)
        by_rcpt = {f.recipient.lower(): f for f in found}
        for f in in_dsn:
            f.reporting_mta = reporting
            text = by_rcpt.get(f.recipient.lower())
            if text and text.diagnostic and (not f.diagnostic or len(text.diagnostic) > len(f.diagnostic)):
                f.diagnostic = text.diagnostic
        found = in_dsn or found
    if not found:
        heads = mail.header("X-Failed-Recipients")
        found = [Failure(recipient=a) for a in (clean_address(p) for p in heads.split(",")) if a]
        if found and body.strip():
            for f in found:
                f.diagnostic = " ".join(body.split())
    for f in found:
        _classify(f, mail)
    return dedupe(found)


def _classify(f: Failure, mail: Mail) -> None:
    diag = f.diagnostic
    m = _COMMAND.search(diag)
    if m:
        f.command = m.group(1).upper()
        if f.command == "END":
            f.command = "DATA"
    low = diag.lower()
    if f.command in ("HELO", "EHLO"):
        f.reason = "blocked"
        return
    if f.command == "MAIL":
        return
    for reason, phrases in _MESSAGES:
        if any(p in low for p in phrases):
            f.reason = reason
            return
    whole = mail.text.lower()
    if (
        any(p in low for p in _DELAYED)
        or (
            not f.command
            and mail.subject.lower().startswith("warning: message")
            and "delayed" in mail.subject.lower()
        )
        or "no action is required on your part" in whole
    ):
        f.reason = "expired"
        f.action = "delayed"
