"""MTA decoders: one module per family of MTAs that writes bounces its own way, one interface.

Each module defines `NAME`, `detect(mail) -> bool` (cheap: headers and a marker or two) and
`decode(mail) -> list[Failure]`. `dispatch` reads feedback reports and Amazon SES notifications
first, then asks the MTA decoders, then the plain RFC 3464 reader (which covers every MTA that writes
a standard `message/delivery-status` part, with Sendmail's transcript and Courier's own texts added
when they wrote it), then Sendmail-style notices without such a part, the generic reader for notes
written in words, and RFC 3834 auto-replies last.
"""

from __future__ import annotations

from types import ModuleType

from outguard.ndr.decoders import (
    amazonses,
    arf,
    au,
    autoreply,
    courier,
    dragonfly,
    exchange2003,
    exchange2007,
    exim,
    fml,
    gmail,
    googlegroups,
    imail,
    lotus,
    messagelabs,
    mfilter,
    opensmtpd,
    plaintext,
    postfix,
    qmail,
    rfc3464,
    sendmail,
    trendmicro,
    unitedinternet,
    verizon,
    x3,
    zoho,
)
from outguard.ndr.mail import Mail
from outguard.ndr.parse import Report

# Order matters only where two families could claim the same message: specific before generic.
DECODERS: tuple[ModuleType, ...] = (
    googlegroups,
    gmail,
    au,
    lotus,
    imail,
    trendmicro,
    mfilter,
    fml,
    verizon,
    x3,
    zoho,
    postfix,
    messagelabs,
    opensmtpd,
    unitedinternet,
    exim,
    qmail,
    dragonfly,
    exchange2003,
    exchange2007,
)


def dispatch(mail: Mail) -> Report | None:
    """The report for a message, or None when it is neither a bounce, a feedback report nor an autoreply."""
    if arf.detect(mail):
        found = arf.decode(mail)
        if found:
            return Report(kind="feedback", recipients=found, decoder=arf.NAME)
    if amazonses.detect(mail):
        found = amazonses.decode(mail)
        if found:
            kinds = {"feedback": "feedback", "delivered": "delivered"}
            kind = kinds.get(found[0].reason, "bounce")
            return Report(kind=kind, recipients=found, decoder=amazonses.NAME)
    for decoder in DECODERS:
        if decoder.detect(mail):
            found = decoder.decode(mail)
            if found:
                return Report(kind="bounce", recipients=found, decoder=decoder.NAME)
    if rfc3464.detect(mail):
        reporting, found = rfc3464.decode_with_mta(mail)
        if found:
            name = rfc3464.NAME
            if sendmail.detect(mail):
                sendmail.enrich(mail, found)
                name = sendmail.NAME
            elif courier.detect(mail):
                courier.enrich(mail, found)
                name = courier.NAME
            return Report(kind="bounce", reporting_mta=reporting, recipients=found, decoder=name)
    if sendmail.detect(mail):
        found = sendmail.decode(mail)
        if found:
            return Report(kind="bounce", recipients=found, decoder=sendmail.NAME)
    if plaintext.detect(mail) and not autoreply.detect(mail):
        found = plaintext.decode(mail)
        if found:
            return Report(kind="bounce", recipients=found, decoder=plaintext.NAME)
    if autoreply.detect(mail):
        found = autoreply.decode(mail)
        if found:
            return Report(kind="autoreply", recipients=found, decoder=autoreply.NAME)
    return None
