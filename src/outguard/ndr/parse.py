"""Reading a bounce: load the message, read its RFC 3464 report, dispatch to MTA decoders, decide.

`parse(raw)` accepts any raw message (bytes, any line endings, broken MIME) and returns a `Report`:
whether it is a bounce at all, and one `Failure` per failed recipient.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from outguard.ndr import lda, remote
from outguard.ndr.mail import Mail, load
from outguard.ndr.reasons import Evidence, decide
from outguard.ndr.smtptext import find_command, find_reply, find_status, is_status, prefer

ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~\-]+@[\w\-]+(?:\.[\w\-]+)+", re.U)
_ANGLE = re.compile(r"<([^<>\s]+@[^<>\s]+)>")


@dataclass
class Failure:
    """One recipient the bounce reports on, as the reporting MTA described it."""

    recipient: str
    action: str = "failed"  # RFC 3464 action: failed, delayed, delivered, …
    status: str | None = None  # RFC 3463 enhanced status code, None when the message has none
    reply_code: str | None = None  # SMTP reply code, e.g. "550"
    diagnostic: str = ""  # the error text
    diagnostic_type: str = ""  # "SMTP", "X-UNIX", … ('' unknown)
    remote_mta: str | None = None
    reporting_mta: str | None = None
    command: str = ""  # SMTP command the error answered
    reason: str = ""
    feedback_type: str | None = None


@dataclass
class Report:
    """What a message is, and what it says about each recipient."""

    kind: str  # "bounce", "delay", "delivered", "autoreply", "feedback" or "not-a-bounce"
    reporting_mta: str | None = None
    recipients: list[Failure] = field(default_factory=list)
    decoder: str = ""  # which reader understood it

    @property
    def is_bounce(self) -> bool:
        return self.kind in ("bounce", "delay")


def clean_address(value: str) -> str:
    """The bare address in an RFC 3464 address field or an angle-bracketed mention ('' if none)."""
    if not value:
        return ""
    if ";" in value:
        kind, _, rest = value.partition(";")
        if "@" in rest or kind.strip().lower() in ("rfc822", "x-unknown", "unknown"):
            value = rest
    m = _ANGLE.search(value)
    if m:
        value = m.group(1)
    value = value.strip().strip("<>\"'()[],;:. \t")
    m = ADDRESS.search(value)
    return m.group(0).strip(".") if m else ""


def mta_name(value: str | None) -> str | None:
    """`dns; mx.example.com` → `mx.example.com`."""
    if not value:
        return None
    if ";" in value:
        value = value.split(";", 1)[1]
    value = value.strip().strip("[]()<> ")
    return value.split()[0] if value else None


def read_dsn(mail: Mail) -> tuple[str | None, list[Failure]]:
    """RFC 3464 §2: per-message fields, then one block of per-recipient fields each."""
    reporting: str | None = None
    out: list[Failure] = []
    for block in _split_blocks(mail.dsn):
        fields = dict(reversed(block))  # the first occurrence of a field wins
        if "reporting-mta" in fields and reporting is None:
            reporting = mta_name(fields["reporting-mta"])
        rcpt_field = fields.get("final-recipient") or fields.get("original-recipient") or ""
        rcpt = clean_address(rcpt_field)
        if not rcpt and fields.get("x-actual-recipient"):
            rcpt = clean_address(fields["x-actual-recipient"])
        if not rcpt:
            # Status without a recipient: fields split off the previous block (bad blank line).
            if out and ("status" in fields or "diagnostic-code" in fields):
                _merge(out[-1], fields)
            continue
        failure = Failure(recipient=rcpt, action="")
        _merge(failure, fields)
        out.append(failure)
    return reporting, out


# PowerMTA adds its own classification of the failure to each recipient block of its DSNs.
_POWERMTA_CATEGORY = {
    "bad-domain": "hostunknown",
    "bad-mailbox": "userunknown",
    "inactive-mailbox": "suspend",
    "message-expired": "expired",
    "no-answer-from-host": "networkerror",
    "policy-related": "policyviolation",
    "quota-issues": "mailboxfull",
    "routing-errors": "systemerror",
    "spam-related": "spamdetected",
}


def _split_blocks(blocks: list[list[tuple[str, str]]]) -> list[list[tuple[str, str]]]:
    """Per-recipient blocks, also when an MTA left out the blank line between two recipients."""
    out: list[list[tuple[str, str]]] = []
    for block in blocks:
        current: list[tuple[str, str]] = []
        for name, value in block:
            if name == "final-recipient" and any(n == "final-recipient" for n, _ in current):
                out.append(current)
                current = []
            current.append((name, value))
        out.append(current)
    return out


def _merge(failure: Failure, fields: dict[str, str]) -> None:
    action = fields.get("action", "").lower().split()
    if action and not failure.action:
        failure.action = action[0].strip(";,.")
    status = fields.get("status", "")
    m = re.search(r"[245]\.\d{1,3}\.\d{1,3}", status)
    if m and not failure.status:
        failure.status = m.group(0)
    diag = fields.get("diagnostic-code", "")
    if diag and not failure.diagnostic:
        kind, sep, rest = diag.partition(";")
        if sep and re.fullmatch(r"\s*[\w\-]{1,12}\s*", kind):
            failure.diagnostic_type = kind.strip().upper()
            failure.diagnostic = rest.strip()
        else:
            failure.diagnostic = diag.strip()
    if fields.get("remote-mta") and not failure.remote_mta:
        failure.remote_mta = mta_name(fields["remote-mta"])
    category = fields.get("x-powermta-bouncecategory", "").strip().lower()
    if category in _POWERMTA_CATEGORY and not failure.reason:
        failure.reason = _POWERMTA_CATEGORY[category]


# An mbox "From " separator line: "From sender  Thu Apr 29 23:34:45 2015".
_MBOX_FROM = re.compile(rb"^From \S*\s+\w{3} \w{3} [ \d]?\d \d\d:\d\d", re.M)


def parse(raw: bytes) -> Report:
    """Read a raw message and report on every recipient it bounces (or answers for).

    An mbox holding several messages is read message by message; the report is the first bounce's,
    with the recipients of the others added.
    """
    data = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n").lstrip(b"\n")
    starts = [m.start() for m in _MBOX_FROM.finditer(data)] if data.startswith(b"From ") else []
    if len(starts) < 2:
        return _parse_one(raw)
    reports = [_parse_one(data[a:b]) for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]
    found = [r for r in reports if r.recipients]
    if not found:
        return reports[0]
    first = found[0]
    for other in found[1:]:
        if other.kind == first.kind:
            first.recipients.extend(other.recipients)
    return first


_FORWARD_SUBJECT = re.compile(r"^(?:fwd?|fw)\s*:", re.I)
_FORWARD_MARK = re.compile(
    r"^(?:Begin forwarded message:|-{5,} ?Forwarded message ?-{5,}|-{5,} ?Original Message ?-{5,})[ \t]*$",
    re.M | re.I,
)


def _forwarded(mail: Mail) -> bytes | None:
    """The message a user forwarded inline ("Fwd: …", "Begin forwarded message:"), quoting undone."""
    if not _FORWARD_SUBJECT.match(mail.subject):
        return None
    m = _FORWARD_MARK.search(mail.text)
    if not m:
        return None
    lines = mail.text[m.end() :].lstrip("\n").split("\n")
    quoted = [line for line in lines if line.strip()]
    if quoted and sum(line.startswith(">") for line in quoted) > len(quoted) / 2:
        lines = [
            line[2:] if line.startswith("> ") else line[1:] if line.startswith(">") else line
            for line in lines
        ]
    return "\n".join(lines).encode("utf-8", errors="replace")


def _parse_one(raw: bytes, depth: int = 0) -> Report:
    from outguard.ndr import decoders

    try:
        mail = load(raw)
    except Exception:  # the email package raising at all means there is nothing to read
        return Report(kind="not-a-bounce")
    if depth < 2:
        inner = _forwarded(mail)
        if inner is not None:
            # A bounce someone forwarded: the forwarded message is the bounce to read.
            report = _parse_one(inner, depth + 1)
            if report.recipients:
                return report
    report = decoders.dispatch(mail)
    if report is None and depth < 2 and isinstance(mail.original, Message):
        original = mail.original
        if (
            original.get_content_type() == "multipart/report"
            or "mailer-daemon" in str(original.get("From", "")).lower()
        ):
            # A gateway that wrapped the bounce it received in a notice of its own.
            report = _parse_one(original.as_bytes(), depth + 1)
            return report if report.recipients else Report(kind="not-a-bounce")
    if report is None:
        return Report(kind="not-a-bounce")
    for failure in report.recipients:
        finish(failure, mail)
    if (
        report.kind == "bounce"
        and report.recipients
        and all(f.action == "delayed" for f in report.recipients)
    ):
        report.kind = "delay"
    if (
        report.kind == "bounce"
        and report.recipients
        and all(f.reason == "delivered" for f in report.recipients)
    ):
        report.kind = "delivered"  # a success notice (DSN with 2.x.x for every recipient)
    if report.reporting_mta is None:
        report.reporting_mta = next((f.reporting_mta for f in report.recipients if f.reporting_mta), None)
    return report


_SPACES = re.compile(r"\s+")
_CONTINUATION = re.compile(r"\b([245]\d\d)-(?:([245]\.\d{1,3}\.\d{1,3}) )?")


def _join_continuations(diag: str) -> str:
    """One sentence from a multi-line reply: "550-5.7.1 abc 550-5.7.1 def 550 5.7.1 ghi" → "550 5.7.1 abc def ghi"."""
    m = _CONTINUATION.search(diag)
    if not m:
        return diag
    reply, status = m.group(1), m.group(2)
    prefix = f"{reply} {status} " if status else f"{reply} "
    marks = [f"{reply}-{status} ", f"{reply} {status} "] if status else []
    marks += [f"{reply}-", f"{reply} "]
    body = diag
    for mark in marks:
        body = body.replace(mark, "")
    return prefix + " ".join(body.split())


def finish(failure: Failure, mail: Mail) -> None:
    """Fill in what the decoder left: status, reply code, command, reason."""
    if failure.reason in ("feedback", "vacation"):
        failure.status = None
        failure.reply_code = None
        return
    diag = _SPACES.sub(" ", failure.diagnostic or "").strip()
    diag = _join_continuations(diag)
    failure.diagnostic = diag
    field_status = failure.status if is_status(failure.status) else ""
    in_text = find_status(diag)
    # The reply code that goes with the code in the text (a relaying MTA's Status: field may be of
    # another class than the remote server's own reply, e.g. 4.5.0 for a "550 5.5.0").
    reply = failure.reply_code or find_reply(diag, (in_text or field_status)[:1])
    reply = reply or find_reply(diag, field_status[:1])
    status = prefer(field_status or "", in_text, reply)
    failure.status = status or None
    if not reply and status:
        reply = find_reply(diag, status[0])
    if reply and status and reply[0] != status[0]:
        reply = find_reply(diag, status[0]) or reply
    failure.reply_code = reply or None
    if not failure.command:
        failure.command = find_command(diag)
    if not failure.action:
        failure.action = "delayed" if status.startswith("4") else "failed"
    dtype = failure.diagnostic_type or "SMTP"
    if dtype == "X-POSTFIX":
        dtype = "SMTP"  # Postfix's own wording for an SMTP delivery it attempted
    ev = Evidence(
        status=status,
        diagnostic=diag,
        diagnostic_type=dtype,
        command=failure.command,
        reply_code=reply,
        action=failure.action,
        reason=failure.reason,
    )
    reason = failure.reason
    if not reason or reason in ("undefined", "onhold") or reason in remote.RETRY:
        found = lda.find(diag, failure.command) or remote.find(failure, mail, ev)
        if found:
            # The delivery agent's or the provider's own wording is the verdict.
            failure.reason = found
            return
    failure.reason = decide(ev)
