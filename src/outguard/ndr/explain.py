"""Explanations: what a bounce means and how to fix it, for the sender and for their admin.

Catalogue first: a status code the catalogue knows (every code Outguard produces, Exchange Online's
documented codes) gets that entry's cause and remedies. Every other code is explained by the reason
the parser found, and by its RFC 3463 class (permanent 5.x.x / temporary 4.x.x).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from outguard import codes
from outguard.ndr.parse import Failure, Report, parse
from outguard.ndr.reasons import CLASS_SUBJECT, Evidence, advice, decide


@dataclass(frozen=True)
class Remedy:
    summary: str
    sender_fix: str
    admin_fix: str
    source: str  # "catalogue" or "reason"

    def to_dict(self) -> dict[str, str]:
        return {"summary": self.summary, "sender_fix": self.sender_fix, "admin_fix": self.admin_fix}


@dataclass(frozen=True)
class ExplainedRecipient:
    failure: Failure
    remedy: Remedy

    def to_dict(self) -> dict[str, Any]:
        f = self.failure
        return {
            "recipient": f.recipient,
            "action": f.action or None,
            "status": f.status,
            "reply_code": f.reply_code,
            "reason": f.reason,
            "diagnostic": f.diagnostic or None,
            "remote_mta": f.remote_mta,
            "explanation": self.remedy.to_dict(),
        }


@dataclass(frozen=True)
class Explanation:
    """The whole answer for one message; `to_dict()` is the `--json` / API shape."""

    kind: str
    reporting_mta: str | None
    recipients: list[ExplainedRecipient] = field(default_factory=list)

    @property
    def is_bounce(self) -> bool:
        return self.kind in ("bounce", "delay")

    def to_dict(self) -> dict[str, Any]:
        return {
            "is_bounce": self.is_bounce,
            "kind": self.kind,
            "reporting_mta": self.reporting_mta,
            "recipients": [r.to_dict() for r in self.recipients],
        }


def remedy_for(failure: Failure) -> Remedy:
    """The catalogue's remedy for a known code; otherwise the reason's, qualified by the code's class."""
    entry = codes.lookup(failure.status, failure.diagnostic)
    # A foreign server may reuse a catalogued code for another cause (5.1.1 from a failing
    # procmail); then the reason the text gives is the better explanation.
    if entry is not None and (
        entry.outguard or entry.reason == failure.reason or failure.reason in ("", "onhold", "undefined")
    ):
        return Remedy(entry.cause, entry.sender_fix, entry.admin_fix, "catalogue")
    base = advice(failure.reason)
    summary = base.summary
    status = failure.status or ""
    if status and failure.reason in ("onhold", "undefined", ""):
        summary = f"The server reported {CLASS_SUBJECT.get(status.split('.')[1][:1], 'a problem')}."
    if status.startswith("4.") or failure.action == "delayed":
        summary += " The failure is temporary: the sending server may still be retrying."
    elif status.startswith("5."):
        summary += " The failure is permanent: sending the same message again will fail the same way."
    return Remedy(summary, base.sender_fix, base.admin_fix, "reason")


def remedy_for_status(status: str, diagnostic: str, action: str = "failed") -> Remedy:
    """The remedy for a status and reply we produced ourselves (Outguard's own NDRs use this)."""
    reply_code = diagnostic[:3] if diagnostic[:3].isdigit() else ""
    reason = decide(Evidence(status=status, diagnostic=diagnostic, reply_code=reply_code, action=action))
    return remedy_for(
        Failure(
            "",
            action=action,
            status=status,
            reply_code=reply_code or None,
            diagnostic=diagnostic,
            reason=reason,
        )
    )


def describe(enhanced: str | None, text: str = "") -> codes.StatusCode:
    """A catalogue entry for any status code: the catalogue's own when it knows the code, else one
    built from the code's RFC 3463 class and the reason the text gives (for pages that show codes)."""
    entry = codes.lookup(enhanced, text)
    if entry is not None:
        return entry
    status = enhanced or "5.0.0"
    remedy = remedy_for_status(status, text)
    klass, _, rest = status.partition(".")
    subject = CLASS_SUBJECT.get(rest[:1], "a delivery problem")
    reply = 450 if klass == "4" else 550
    return codes.StatusCode(
        status,
        reply,
        text or subject,
        subject[0].upper() + subject[1:],
        remedy.summary,
        remedy.sender_fix,
        remedy.admin_fix,
        reason=decide(Evidence(status=status, diagnostic=text)),
    )


def explain_report(report: Report) -> Explanation:
    return Explanation(
        kind=report.kind,
        reporting_mta=report.reporting_mta,
        recipients=[ExplainedRecipient(f, remedy_for(f)) for f in report.recipients],
    )


def explain(raw: bytes) -> Explanation:
    """Parse a raw message and explain every recipient it reports on."""
    return explain_report(parse(raw))
