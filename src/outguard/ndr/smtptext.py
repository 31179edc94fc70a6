"""Finding RFC 3463 enhanced status codes, SMTP reply codes and SMTP commands inside error text."""

from __future__ import annotations

import re

_IPV4 = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")
# An enhanced code: class.subject.detail, not glued to digits, dots or a version "v" on the left.
_STATUS = re.compile(r"(?<![\dvV.])([245])\.([0-7])\.(\d{1,3})(?![\d])")
_REPLY = re.compile(r"(?<![\d.\-/:=@])([245][0-5]\d)(?=[\s\-]|$|\))")
_STATUS_FULL = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")

# Where in the SMTP dialogue the error came, as MTAs phrase it (Postfix, Exim, Sendmail, qmail…).
_VERBS = r"(rcpt\s+to|mail\s+from|end\s+of\s+data|data|helo|ehlo|starttls|auth)"
_COMMAND = re.compile(
    r"in\s+reply\s+to\s+(?:the\s+)?" + _VERBS + r"\b"
    r"|after\s+(rcpt\s+to|mail\s+from|end\s+of\s+data|data|initial\s+connection|helo|ehlo|starttls|auth|pipelined)\b"
    r"|^>>> (rcpt\s+to|mail\s+from|data|helo|ehlo|starttls|\.)"
    r"|(?:smtp|esmtp) error .{0,40}?(rcpt\s+to|mail\s+from|data)\b",
    re.I | re.M,
)
_COMMAND_NAME = {
    "rcpt to": "RCPT",
    "mail from": "MAIL",
    "end of data": "DATA",
    "data": "DATA",
    ".": "DATA",
    "helo": "HELO",
    "ehlo": "EHLO",
    "starttls": "STARTTLS",
    "auth": "AUTH",
    "initial connection": "CONN",
    "pipelined": "DATA",
}


def is_status(code: str | None) -> bool:
    return bool(code and _STATUS_FULL.match(code))


def prefer(field: str, in_text: str, reply: str = "") -> str:
    """Choose between the DSN's Status: field and a code found in the diagnostic text.

    The text usually carries the remote server's own code, more precise than a relaying MTA's
    summary; vague codes (X.0.0, 4.4.7, 4.7.0, 5.3.x, X.5.x) yield to it.
    """
    if not field:
        return in_text
    if not in_text or field == in_text:
        return field
    if reply and field[0] != in_text[0]:
        if reply[0] == field[0]:
            return field
        if reply[0] == in_text[0]:
            return in_text
    if ".0.0" in field[1:]:
        return field if ".0.0" in in_text[1:] else in_text
    if ".0" in field and ".0" not in in_text:
        return in_text
    if ".0.0" in in_text[1:]:
        return field
    if (
        field in ("4.4.7", "4.7.0")
        or field.startswith("5.3.")
        or field[1:4] in (".5.1", ".5.2", ".5.4", ".5.5")
    ):
        return in_text
    if field == "5.1.1":
        return field if (".0" in in_text or in_text.startswith("5.5.")) else in_text
    if field == "5.1.3" and in_text.startswith("5.7."):
        return in_text
    return field


def find_status(text: str, klass: str = "") -> str:
    """The enhanced status code in an error text ('' if none); prefers specific codes to X.0.0."""
    if len(text) < 5:
        return ""
    masked = _IPV4.sub("IP", text)
    found: list[str] = []
    fallback = ""
    for m in _STATUS.finditer(masked):
        if klass and m.group(1) != klass:
            continue
        code = f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
        if (code.endswith(".0.0") and code[1:] == ".0.0") or code == "4.4.7":
            fallback = fallback or code
            continue
        found.append(code)
    if fallback:
        found.append(fallback)
    if not found:
        return ""
    best = found[0]
    for code in found[1:]:
        best = prefer(best, code)
    return best


def find_reply(text: str, klass: str = "") -> str:
    """The SMTP reply code (e.g. "550") in an error text ('' if none)."""
    masked = _IPV4.sub("IP", text)
    first = ""
    for m in _REPLY.finditer(masked):
        code = m.group(1)
        if not klass or code[0] == klass:
            return code
        first = first or code
    return "" if klass else first


# A command named on its own, in capitals, not inside a word, address or host name ("[RCPT_TO]",
# "MAIL FROM:<…> … rejected", "DATA: 550 …"); the last one named is the one that failed.
_BARE_COMMAND = re.compile(
    r"(?<![0-9A-Za-z@.])(HELO|EHLO|STARTTLS|AUTH (?:PLAIN|LOGIN|CRAM-|DIGEST-)|MAIL F|RCPT|DATA|QUIT)(?![0-9A-Za-z@])"
)


def find_command(text: str, bare: bool = True) -> str:
    """The SMTP command an error answered (RCPT, MAIL, DATA, HELO, …) as the MTA reported it.

    With `bare`, a command named on its own in capitals counts too (for an error text, not for a
    whole message).
    """
    m = _COMMAND.search(text)
    if m:
        word = " ".join(next(g for g in m.groups() if g).lower().split())
        return _COMMAND_NAME.get(word, "")
    if not bare:
        return ""
    last = ""
    for b in _BARE_COMMAND.finditer(text):
        last = b.group(1)[:4]
    return {"STAR": "STARTTLS", "MAIL": "MAIL"}.get(last, last)
