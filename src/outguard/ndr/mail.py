"""A bounce message as the decoders read it: decoded headers, readable text, DSN fields, original.

Built once per message with the standard `email` package (compat32 policy: it never raises on broken
MIME, it keeps whatever it could not parse as text).
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32

_TAG = re.compile(r"<(script|style)\b.*?</\1>|<[^>]+>", re.S | re.I)
_ENTITY = {"&nbsp;": " ", "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#39;": "'"}
_ENTITY_RE = re.compile("|".join(map(re.escape, _ENTITY)))
_BR = re.compile(r"<br\s*/?>|</p>|</div>|</tr>|</li>|</h\d>", re.I)


def normalise(raw: bytes) -> bytes:
    """LF line endings (CRLF and bare-CR files are common), without an mbox "From " line."""
    data = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    data = data.lstrip(b"\n")
    if data.startswith(b"From "):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return data


def header_text(value: object) -> str:
    """A header value with RFC 2047 encoded-words decoded; never raises."""
    if value is None:
        return ""
    text = str(value)
    if "=?" in text:
        try:
            text = str(make_header(decode_header(text)))
        except Exception:  # broken encoded-words: keep the raw text
            pass
    return " ".join(text.split())


def part_text(part: Message) -> str:
    """The decoded text of a leaf part (quoted-printable/base64 and charset undone)."""
    payload = part.get_payload(decode=True)
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except LookupError:
        text = payload.decode("utf-8", errors="replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text


def html_to_text(html: str) -> str:
    text = _BR.sub("\n", html)
    text = _TAG.sub("", text)
    return _ENTITY_RE.sub(lambda m: _ENTITY[m.group(0)], text)


@dataclass
class Mail:
    """Everything a decoder looks at."""

    msg: Message
    subject: str = ""
    sender: str = ""  # the From: header of the bounce
    ctype: str = ""
    report_type: str = ""
    text: str = ""  # readable parts, decoded, in order (the report's human part)
    dsn: list[list[tuple[str, str]]] = field(default_factory=list)  # message/delivery-status blocks
    feedback: list[tuple[str, str]] = field(default_factory=list)  # message/feedback-report fields
    original: Message | None = None  # the returned message or its headers
    original_text: str = ""  # the returned message when it came inline as text
    has_html_only: bool = False

    def header(self, name: str) -> str:
        return header_text(self.msg.get(name))

    def original_header(self, name: str) -> str:
        if self.original is None:
            return ""
        return header_text(self.original.get(name))


def _fields(block: Message) -> list[tuple[str, str]]:
    return [(k.lower(), " ".join(str(v).split())) for k, v in block.items()]


def _parse_fields(text: str) -> list[list[tuple[str, str]]]:
    """Header-like blocks of a delivery-status body that `email` left as text."""
    blocks: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for line in text.split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
                current = []
            continue
        if line[0] in " \t" and current:
            name, value = current[-1]
            current[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if sep and name and " " not in name.strip():
            current.append((name.strip().lower(), value.strip()))
    if current:
        blocks.append(current)
    return blocks


_DELIMITER = re.compile(rb"^--([^\s]{1,200}?)(--)?[ \t]*$", re.M)


def _repair_boundary(data: bytes, msg: Message) -> Message:
    """A multipart message whose declared boundary never occurs: parse it with the one the body uses.

    (Relays and anonymising tools sometimes rewrite one but not the other.)
    """
    untyped = msg.get("Content-Type") is None  # MIME parts with the Content-Type header lost
    if msg.is_multipart() or not (msg.get_content_maintype() == "multipart" or untyped):
        return msg
    body = data.split(b"\n\n", 1)[1] if b"\n\n" in data else b""
    seen: dict[bytes, int] = {}
    closed: set[bytes] = set()
    for m in _DELIMITER.finditer(body):
        seen[m.group(1)] = seen.get(m.group(1), 0) + 1
        if m.group(2):
            closed.add(m.group(1))
    used = next((b for b, n in seen.items() if n >= 2 and (not untyped or b in closed)), None)
    if used is None:
        return msg
    if untyped:
        # Only a body that starts as MIME does (a short preamble, then the first delimiter); a
        # returned message quoted further down has its own boundaries.
        lead = [line for line in body[: body.find(b"--" + used)].split(b"\n") if line.strip()]
        if len(lead) > 3:
            return msg
    try:
        if untyped:
            msg["Content-Type"] = "multipart/mixed"
        msg.set_param("boundary", used.decode("ascii"))
        return email.message_from_bytes(msg.as_bytes(), policy=compat32)
    except Exception:  # a boundary that cannot be re-serialised: keep the message as it was
        return msg


def load(raw: bytes) -> Mail:
    """Parse raw bytes into a Mail; tolerant of any line ending and of broken MIME."""
    data = normalise(raw)
    msg = _repair_boundary(data, email.message_from_bytes(data, policy=compat32))
    mail = Mail(msg=msg)
    mail.subject = header_text(msg.get("Subject"))
    mail.sender = header_text(msg.get("From"))
    mail.ctype = msg.get_content_type()
    mail.report_type = (
        (msg.get_param("report-type") or "").lower() if mail.ctype == "multipart/report" else ""
    )
    texts: list[str] = []
    htmls: list[str] = []
    _walk(msg, mail, texts, htmls, 0)
    if not texts and htmls:
        texts = htmls
        mail.has_html_only = True
    mail.text = "\n".join(texts)
    return mail


def _walk(part: Message, mail: Mail, texts: list[str], htmls: list[str], depth: int) -> None:
    ctype = part.get_content_type()
    if ctype in ("message/rfc822", "message/global", "message/partial") or ctype.startswith("message/rfc822"):
        payload = part.get_payload()
        if isinstance(payload, list) and payload and mail.original is None:
            mail.original = payload[0]
        elif isinstance(payload, str) and mail.original is None:
            mail.original = email.message_from_string(payload, policy=compat32)
        return
    if ctype in ("message/delivery-status", "message/global-delivery-status"):
        payload = part.get_payload()
        if isinstance(payload, list):
            blocks = [_fields(b) for b in payload if isinstance(b, Message)]
            # A block email could not split holds several blocks in its body.
            for b, fields in zip(payload, blocks, strict=False):
                body = b.get_payload() if isinstance(b, Message) else ""
                mail.dsn.append(fields)
                if isinstance(body, str) and ":" in body:
                    mail.dsn.extend(_parse_fields(body))
        else:
            mail.dsn.extend(_parse_fields(part_text(part)))
        return
    if ctype == "message/feedback-report":
        payload = part.get_payload()
        if isinstance(payload, list):
            for b in payload:
                if isinstance(b, Message):
                    mail.feedback.extend(_fields(b))
        else:
            for block in _parse_fields(part_text(part)):
                mail.feedback.extend(block)
        return
    if ctype in ("text/rfc822-headers", "text/rfc822-header", "text/x-rfc822-headers"):
        if mail.original is None:
            mail.original = email.message_from_string(part_text(part).lstrip(), policy=compat32)
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list) and depth < 20:
            for sub in payload:
                if isinstance(sub, Message):
                    _walk(sub, mail, texts, htmls, depth + 1)
        return
    maintype = part.get_content_maintype()
    if maintype == "text" or depth == 0:  # a top-level body we could not split is read as text
        text = part_text(part)
        if part.get_content_subtype() == "html":
            htmls.append(text)
        else:
            texts.append(text)
