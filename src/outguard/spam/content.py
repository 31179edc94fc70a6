"""What the built-in classifier reads of a message, taken cheaply: the header block, and the text of
the first `budget` bytes of body (text/plain and text/html parts, quoted-printable and base64
decoded). A 25 MB message costs the same as a 64 KB one: parts beyond the budget are never looked at.
"""

from __future__ import annotations

import binascii
import codecs
import email.header
import email.parser
import email.policy
import html
import re
from dataclasses import dataclass, field
from email.message import Message

BODY_BUDGET = 64 * 1024  # bytes of body looked at
HEADER_BUDGET = 64 * 1024  # bytes of header block parsed (a bigger block is cut there)
MAX_DEPTH = 4  # nested multiparts followed

# compat32: an order of magnitude cheaper than email.policy.default, and values stay plain strings.
_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)

# Part headers: only the three fields we need, by regex (cheaper than a parser per part).
_PART_CTYPE = re.compile(rb"^content-type[ \t]*:[ \t]*([^;\r\n]*)((?:[^\r\n]|\r?\n[ \t])*)", re.I | re.M)
_PART_CTE = re.compile(rb"^content-transfer-encoding[ \t]*:[ \t]*([\w-]+)", re.I | re.M)
_PART_DISPOSITION = re.compile(rb"^content-disposition[ \t]*:[ \t]*([\w-]+)", re.I | re.M)
_FILENAME = re.compile(rb"""\b(?:file)?name\*?(?:\*\d+)?\*?[ \t]*=[ \t]*(?:"([^"]*)"|([^;\s]+))""", re.I)
_BOUNDARY = re.compile(rb"""\bboundary[ \t]*=[ \t]*(?:"([^"]+)"|([^;\s]+))""", re.I)
_CHARSET = re.compile(rb"""\bcharset[ \t]*=[ \t]*"?([\w.:-]+)""", re.I)
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")

_HTML_INVISIBLE = re.compile(r"<(style|script|head|title)\b.*?</\1\s*>", re.I | re.S)
_HTML_TAG = re.compile(r"<[^>]*>")
_HTML_BLOCK = re.compile(r"<(?:br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.I)


@dataclass(slots=True)
class Content:
    """The parts of a message the built-in tests read."""

    headers: Message  # the top-level header block (compat32)
    body_prefix: bytes  # the raw body within the budget (GTUBE is looked for here too)
    plain: list[str] = field(default_factory=list)  # decoded text/plain parts
    html: list[str] = field(default_factory=list)  # decoded text/html parts (markup kept)
    attachments: list[str] = field(default_factory=list)  # file names seen within the budget

    @property
    def text(self) -> str:
        """The readable text: the plain parts, or the HTML parts stripped of markup."""
        if self.plain:
            return "\n".join(self.plain)
        return "\n".join(html_to_text(h) for h in self.html)

    def header(self, name: str) -> str:
        """A header's value, RFC 2047 words decoded, folding removed; "" when absent."""
        value = self.headers.get(name)
        return decode_header(value) if value is not None else ""


def decode_header(value: object) -> str:
    text = str(value)
    if "=?" in text:
        try:
            text = str(email.header.make_header(email.header.decode_header(text)))
        except (ValueError, LookupError, UnicodeError):
            pass  # a broken encoded word: keep the raw text
    return " ".join(text.split()) if "\n" in text else text


def html_to_text(markup: str) -> str:
    """Visible text of an HTML part, roughly: no style/script, tags removed, entities decoded."""
    markup = _HTML_INVISIBLE.sub(" ", markup)
    markup = _HTML_BLOCK.sub("\n", markup)
    return html.unescape(_HTML_TAG.sub(" ", markup))


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    """(header block, body) of a message or part; LF-only line ends are tolerated."""
    end = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n", 0, len(data) if end == -1 else end)  # only before the CRLF one
    if lf != -1:
        return data[:lf], data[lf + 2 :]
    if end == -1:
        return data, b""
    return data[:end], data[end + 4 :]


def _decode(data: bytes, cte: bytes, charset: str) -> str:
    cte = cte.lower()
    try:
        if cte == b"base64":
            data = _B64_JUNK.sub(b"", data)
            data = binascii.a2b_base64(data[: len(data) - len(data) % 4])  # the budget may cut a quantum
        elif cte == b"quoted-printable":
            data = binascii.a2b_qp(data)
    except binascii.Error:
        return ""
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return data.decode(charset, "replace")


def _params(ctype_rest: bytes) -> tuple[bytes | None, str]:
    b = _BOUNDARY.search(ctype_rest)
    c = _CHARSET.search(ctype_rest)
    boundary = (b.group(1) or b.group(2)) if b else None
    charset = c.group(1).decode("ascii", "replace") if c else "utf-8"
    return boundary, charset


def _part(ctype: bytes, rest: bytes, cte: bytes, body: bytes, depth: int, out: Content) -> None:
    """Take the text of one part (or walk into a multipart)."""
    ctype = ctype.strip().lower() or b"text/plain"
    boundary, charset = _params(rest)
    if ctype.startswith(b"multipart/"):
        if boundary and depth < MAX_DEPTH:
            _multipart(body, boundary, depth + 1, out)
        return
    if ctype == b"text/plain":
        out.plain.append(_decode(body, cte, charset))
    elif ctype == b"text/html":
        out.html.append(_decode(body, cte, charset))


def _multipart(body: bytes, boundary: bytes, depth: int, out: Content) -> None:
    # RFC 2046 §5.1.1: a delimiter is CRLF "--" boundary; the body may start with one directly.
    chunks = (b"\r\n" + body).split(b"\n--" + boundary)
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        chunk = chunk.lstrip(b" \t")  # transport padding after the boundary
        chunk = chunk[2:] if chunk.startswith(b"\r\n") else chunk.removeprefix(b"\n")
        if chunk.startswith((b"\r\n", b"\n")):
            head, part_body = b"", chunk.lstrip(b"\r\n")  # a part without headers: text/plain
        else:
            head, part_body = _split_head(chunk)
        m = _PART_CTYPE.search(head)
        ctype, rest = (m.group(1), m.group(2)) if m else (b"text/plain", b"")
        name = _FILENAME.search(head)
        disposition = _PART_DISPOSITION.search(head)
        if name or (disposition and disposition.group(1).lower() == b"attachment"):
            if name:
                out.attachments.append((name.group(1) or name.group(2)).decode("utf-8", "replace"))
            continue  # attached files are not the message text
        cte = _PART_CTE.search(head)
        _part(ctype, rest, cte.group(1) if cte else b"7bit", part_body.removesuffix(b"\r"), depth, out)


def extract(content: bytes, budget: int = BODY_BUDGET) -> Content:
    """Parse the header block and the text within the first `budget` bytes of body."""
    head, body = _split_head(content[: HEADER_BUDGET + budget])
    if len(head) > HEADER_BUDGET:
        head, body = head[:HEADER_BUDGET], b""
    headers = _HEADER_PARSER.parsebytes(head + b"\r\n\r\n")
    body = body[:budget]
    out = Content(headers=headers, body_prefix=body)
    ctype_value = headers.get("Content-Type")
    if ctype_value is None:
        ctype, rest = b"text/plain", b""
    else:
        raw = str(ctype_value).encode("utf-8", "surrogateescape")
        ctype, _, rest = raw.partition(b";")
        rest = b";" + rest
    cte = str(headers.get("Content-Transfer-Encoding", "7bit")).strip().encode("ascii", "replace")
    _part(ctype, rest, cte, body, 0, out)
    return out
