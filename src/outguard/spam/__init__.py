"""Outbound spam and bulk verdicts: one classifier interface, two implementations.

`BuiltinClassifier` (the embedded default: no network, a few hundred microseconds per message) and
`RspamdClassifier` (Rspamd's HTTP API, for production). Both answer a `Verdict`: spam yes/no, a score,
a bulk complaint level 0-9 like Exchange Online's BCL (reference §3, §6.1), the names of the tests
that fired, and — when the classifier failed — the error, with spam/bulk taken from `[spam] fail`.

The classifier runs at end of DATA; the pipeline records the verdict in the trace (`as_trace`) and
charges the tenant's spam/bulk counters. `detection` names the "Spam by detection technology"
category of the Threat protection status report (reference §6.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from outguard.config import Settings

__all__ = [
    "CLASSIFIER_UNAVAILABLE",
    "Classifier",
    "MessageInfo",
    "Verdict",
    "detection_of",
    "failure_verdict",
    "open_classifier",
    "technology",
]

# The test name a failed classification carries (both fail modes), so the trace says why.
CLASSIFIER_UNAVAILABLE = "CLASSIFIER_UNAVAILABLE"

# "Spam by detection technology" (reference §6.1) — the categories this gateway can produce.
ADVANCED_FILTER = "Advanced filter"
BULK = "Bulk"
DOMAIN_REPUTATION = "Domain reputation"
FINGERPRINT_MATCHING = "Fingerprint matching"
GENERAL_FILTER = "General filter"
IP_REPUTATION = "IP reputation"
URL_REPUTATION = "URL malicious reputation"

# Test-name prefixes -> technology, first match wins; anything else is the general filter. Covers the
# built-in tests and Rspamd's stock symbol families (fuzzy hashes, URL and IP blocklists, reputation,
# Bayes/neural networks).
_TECHNOLOGY_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("FINGERPRINT_", "FUZZY_", "DCC_REJECT"), FINGERPRINT_MATCHING),
    (("URL_", "SURBL_", "URIBL_", "RSPAMD_URIBL", "DBL_", "SEM_URIBL", "PH_SURBL_", "PHISH"), URL_REPUTATION),
    (("RBL_", "RECEIVED_SPAMHAUS", "RCVD_IN_", "IP_REPUTATION", "IP_SCORE", "SENDERSCORE"), IP_REPUTATION),
    (("SENDER_REP_", "DKIM_REP_", "SPF_REP_", "FROM_REP_"), DOMAIN_REPUTATION),
    (("BAYES_SPAM", "NEURAL_SPAM"), ADVANCED_FILTER),
)


def technology(test: str) -> str:
    """The detection technology (reference §6.1) a test or Rspamd symbol belongs to."""
    for prefixes, name in _TECHNOLOGY_PREFIXES:
        if test.startswith(prefixes):
            return name
    return GENERAL_FILTER


@dataclass(frozen=True, slots=True)
class Verdict:
    """One classification. `tests` come strongest first: the built-in classifier's by weight, then
    its bulk signals by points; Rspamd's symbols by score."""

    spam: bool
    score: float
    bulk_level: int  # 0..9, like Exchange's bulk complaint level (BCL)
    tests: tuple[str, ...]  # names of what fired, e.g. ("GTUBE",)
    classifier: str  # "builtin" | "rspamd"
    error: str | None = None  # set when the classifier failed (then spam/bulk come from the fail mode)
    bulk: bool = False  # bulk_level >= [spam] bulk_threshold, decided by the classifier
    detection: str | None = None  # §6.1 technology that made it spam (or "Bulk"); None for good mail

    def is_bulk(self, threshold: int) -> bool:
        """Bulk at another threshold than the configured one (e.g. a tenant's own BCL threshold)."""
        return self.bulk_level >= threshold

    def as_trace(self) -> dict[str, Any]:
        """The trace columns of `TraceMessage` this verdict fills."""
        return {
            "spam": self.spam,
            "spam_score": self.score,
            "bulk_level": self.bulk_level,
            "spam_tests": list(self.tests),
            "classifier": self.classifier,
        }


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What the gateway knows at end of DATA."""

    content: bytes  # the raw message (CRLF), headers + body, as received
    sender: str  # envelope sender ("" for <>)
    recipients: tuple[str, ...]
    client_ip: str
    helo: str
    tenant: str  # tenant name (for per-tenant fingerprint windows)
    auth_user: str | None
    queue_id: str


class Classifier(Protocol):
    """Classifies one message. `classify` never raises: failures give `failure_verdict`."""

    name: str

    async def classify(self, msg: MessageInfo) -> Verdict: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def detection_of(spam: bool, bulk: bool, weighted: Iterable[tuple[str, float]]) -> str | None:
    """The §6.1 technology for a verdict: that of the strongest positive test when spam, "Bulk" when
    only bulk, None for good mail. `weighted` is (test, score) pairs."""
    if spam:
        best = max(weighted, key=lambda t: t[1], default=None)
        return technology(best[0]) if best is not None and best[1] > 0 else GENERAL_FILTER
    return BULK if bulk else None


def failure_verdict(classifier: str, fail: str, error: str) -> Verdict:
    """The verdict when classification failed: `fail=open` lets the message through as good mail,
    `fail=closed` treats it as spam. Either way `error` says what went wrong."""
    closed = fail == "closed"
    return Verdict(
        spam=closed,
        score=0.0,
        bulk_level=0,
        tests=(CLASSIFIER_UNAVAILABLE,),
        classifier=classifier,
        error=error,
        bulk=False,
        detection=GENERAL_FILTER if closed else None,
    )


def open_classifier(settings: Settings) -> Classifier | None:
    """The configured classifier (not started yet), or None when `[spam] classifier = "off"`."""
    kind = settings.spam.classifier
    if kind == "off":
        return None
    if kind == "rspamd":
        from outguard.spam.rspamd import RspamdClassifier

        return RspamdClassifier(settings.spam)
    from outguard.spam.builtin import BuiltinClassifier

    return BuiltinClassifier(settings.spam)
