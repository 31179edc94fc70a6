"""Helpers shared by decoders of plain-text bounces: cut out the error section, split it by recipient."""

from __future__ import annotations

import re
from collections.abc import Iterable

from outguard.ndr.mail import Mail
from outguard.ndr.parse import Failure, clean_address, read_dsn


def section(text: str, start: re.Pattern[str] | None, end: re.Pattern[str] | None) -> str:
    """The text between the first `start` match (exclusive) and the first `end` match after it."""
    begin = 0
    if start is not None:
        m = start.search(text)
        if not m:
            return ""
        begin = m.end()
    if end is not None:
        m = end.search(text, begin)
        if m:
            return text[begin : m.start()]
    return text[begin:]


def split_by_recipient(
    lines: Iterable[str], recipient: re.Pattern[str], stop: re.Pattern[str] | None = None
) -> list[Failure]:
    """One Failure per line that names a recipient; the lines after it (to the next) are its error."""
    out: list[Failure] = []
    for line in lines:
        if stop is not None and stop.search(line):
            break
        m = recipient.search(line)
        if m:
            addr = clean_address(m.group(1))
            if addr:
                rest = line[m.end() :].strip(" :\t")
                out.append(Failure(recipient=addr, diagnostic=rest))
                continue
        if out and line.strip():
            out[-1].diagnostic = f"{out[-1].diagnostic} {line.strip()}".strip()
    return out


def dedupe(failures: list[Failure]) -> list[Failure]:
    """Keep the first report of each recipient (case-insensitive), merging empty diagnostics."""
    seen: dict[str, Failure] = {}
    for f in failures:
        key = f.recipient.lower()
        if key in seen:
            if not seen[key].diagnostic:
                seen[key].diagnostic = f.diagnostic
            continue
        seen[key] = f
    return list(seen.values())


def merge_dsn(mail: Mail, found: list[Failure], diagnostic: bool = False) -> None:
    """Fill in what a text decoder could not read from the message's delivery-status part, if any.

    Status codes and the remote MTA come from the DSN; with `diagnostic`, an empty error text too.
    """
    if not mail.dsn or not found:
        return
    reporting, in_dsn = read_dsn(mail)
    by_rcpt = {f.recipient.lower(): f for f in in_dsn}
    for f in found:
        other = by_rcpt.get(f.recipient.lower())
        if other is None and len(found) == 1 and len(in_dsn) == 1:
            other = in_dsn[0]
        if other is None:
            continue
        f.status = f.status or other.status
        f.remote_mta = f.remote_mta or other.remote_mta
        f.reporting_mta = f.reporting_mta or reporting
        if other.action and f.action == "failed":
            f.action = other.action
        if diagnostic and not f.diagnostic:
            f.diagnostic = other.diagnostic
            f.diagnostic_type = other.diagnostic_type
