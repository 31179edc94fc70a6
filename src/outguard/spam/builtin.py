"""The built-in classifier: the embedded default, no network, a few hundred microseconds a message.

It reads the header block and the text within the first 64 KB of body (`content`), runs a handful
of named tests, and adds their weights; a message is spam at `[spam] score_threshold` (5.0) or
above. Weights are modest on purpose: no single heuristic but GTUBE makes a message spam. Phrases
are looked for in the subject and the first 8 KB of text, links in all the text read; the cost
stays flat past that (bench/spam: ~0.2 ms for a 2 KB message).

| test                    | weight | fires when                                                        |
|-------------------------|-------:|-------------------------------------------------------------------|
| GTUBE                   | 1000.0 | the GTUBE test string is in the body (then nothing else is run)    |
| SPAM_PHRASES_MANY       |    4.0 | three or more distinct spam phrases (lottery, pharmacy, ...)       |
| FROM_DISPLAY_SPOOF      |    3.0 | the From display name holds an address of another domain          |
| EXECUTABLE_ATTACHMENT   |    3.0 | an attachment named .exe, .scr, .js, .vbs, .hta, .jar, .lnk, ...   |
| PHISH_PHRASES           |    2.5 | credential phishing wording ("verify your account", ...)          |
| URL_IP_LITERAL          |    2.5 | a link to a bare IP address                                        |
| SPAM_PHRASES            |    2.0 | one or two distinct spam phrases                                   |
| HTML_ONLY_HIDDEN_TEXT   |    2.0 | HTML-only, with text hidden by display:none / font-size:0 / ...    |
| SUBJ_ALL_CAPS           |    1.5 | a subject of two words or more and 10+ letters, all capitals       |
| URL_SHORTENER           |    1.5 | a link through a URL shortener (bit.ly, tinyurl.com, ...)          |
| MISSING_FROM            |    1.5 | no From header (RFC 5322 §3.6 requires one)                        |
| SUBJ_EXCLAIM            |    1.0 | three or more exclamation marks in the subject                     |
| MISSING_DATE            |    1.0 | no Date header                                                     |
| MISSING_MESSAGE_ID      |    1.0 | no Message-ID header                                               |
| HTML_ONLY               |    0.5 | HTML parts and no text/plain alternative                           |

The bulk complaint level (0-9, like Exchange Online's BCL) is the sum of the bulk signals' points,
capped at 9; the message is bulk at `[spam] bulk_threshold` (7) or above. Auto-Submitted is not a
bulk signal (it marks auto-replies).

| signal                       | points | fires when                                                    |
|------------------------------|-------:|---------------------------------------------------------------|
| BULK_LIST_UNSUBSCRIBE        |      3 | a List-Unsubscribe header (RFC 2369)                          |
| BULK_ONE_CLICK_UNSUBSCRIBE   |      1 | List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058)  |
| BULK_PRECEDENCE              |      2 | Precedence: bulk, list or junk                                |
| BULK_LIST_ID                 |      1 | a List-Id header (RFC 2919)                                   |
| BULK_MAILER                  |      2 | X-Mailer/User-Agent of bulk-mailing software, X-Campaign*     |
| BULK_RCPT_MANY               |      2 | 20 to 99 envelope recipients                                  |
| BULK_RCPT_MASS               |      4 | 100 envelope recipients or more (instead of BULK_RCPT_MANY)   |
| FINGERPRINT_REPEAT           |      4 | the same body (fuzzy fingerprint) reached `fingerprint_repeat`|
|                              |        | (20) distinct recipients of the tenant within                 |
|                              |        | `fingerprint_window` (1 h), some through earlier messages     |
| FINGERPRINT_MASS             |      6 | likewise `fingerprint_mass` (200) (instead of REPEAT)         |

What the levels mean: 0 — no bulk signal (person-to-person mail); 1-3 — one list header, e.g. a
transactional notice with an unsubscribe link; 4-6 — bulk traits: a message to 100 recipients, a
mailing list post, a template sent to many; 7-9 — bulk: a newsletter that says so in its headers,
or list mail repeated to many recipients. A newsletter carrying all list headers is bulk from its
first copy; a template without list headers stays at 6 however often it is sent (a shop's order
confirmations are not bulk mail).
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Callable
from email.utils import parseaddr

from outguard.config import SpamSettings
from outguard.spam import MessageInfo, Verdict, detection_of, failure_verdict
from outguard.spam.content import extract
from outguard.spam.fingerprint import FingerprintStore, sketch, words

log = logging.getLogger(__name__)

WEIGHTS: dict[str, float] = {
    "GTUBE": 1000.0,
    "SPAM_PHRASES_MANY": 4.0,
    "FROM_DISPLAY_SPOOF": 3.0,
    "EXECUTABLE_ATTACHMENT": 3.0,
    "PHISH_PHRASES": 2.5,
    "URL_IP_LITERAL": 2.5,
    "SPAM_PHRASES": 2.0,
    "HTML_ONLY_HIDDEN_TEXT": 2.0,
    "SUBJ_ALL_CAPS": 1.5,
    "URL_SHORTENER": 1.5,
    "MISSING_FROM": 1.5,
    "SUBJ_EXCLAIM": 1.0,
    "MISSING_DATE": 1.0,
    "MISSING_MESSAGE_ID": 1.0,
    "HTML_ONLY": 0.5,
}

BULK_POINTS: dict[str, int] = {
    "FINGERPRINT_MASS": 6,
    "FINGERPRINT_REPEAT": 4,
    "BULK_RCPT_MASS": 4,
    "BULK_LIST_UNSUBSCRIBE": 3,
    "BULK_PRECEDENCE": 2,
    "BULK_MAILER": 2,
    "BULK_RCPT_MANY": 2,
    "BULK_ONE_CLICK_UNSUBSCRIBE": 1,
    "BULK_LIST_ID": 1,
}

RCPT_MANY = 20
RCPT_MASS = 100
PHRASE_TEXT = 8 * 1024  # characters of body text searched for phrases (links: all the text read)

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
_GTUBE_BYTES = GTUBE.encode("ascii")


class Phrases:
    """Word phrases of several kinds, found by n-gram set lookups on normalised words: one C-level
    pass per phrase length, however many phrases (a regex alternation costs several times more).
    Alternatives are written in braces: "verify your {account|password}"."""

    def __init__(self, **kinds: tuple[str, ...]) -> None:
        self.kind: dict[tuple[str, ...], str] = {}
        for kind, templates in kinds.items():
            for template in templates:
                options = [part.split("|") for part in re.split(r"[{}]", template)]
                for combination in itertools.product(*options):
                    self.kind[tuple(words("".join(combination)))] = kind
        lengths = sorted({len(p) for p in self.kind})
        self.singles = frozenset(p[0] for p in self.kind if len(p) == 1)
        self.by_length = {n: frozenset(p for p in self.kind if len(p) == n) for n in lengths if n > 1}

    def find(self, w: list[str]) -> dict[str, set[tuple[str, ...]]]:
        """The distinct phrases that occur in the word list `w`, by kind."""
        found: set[tuple[str, ...]] = {(word,) for word in self.singles.intersection(w)}
        for n, phrases in self.by_length.items():
            found |= phrases.intersection(zip(*(w[i:] for i in range(n)), strict=False))
        by_kind: dict[str, set[tuple[str, ...]]] = {}
        for phrase in found:
            by_kind.setdefault(self.kind[phrase], set()).add(phrase)
        return by_kind


PHRASES = Phrases(
    spam=(
        "viagra", "cialis", "levitra", "no prescription", "online pharmacy", "lose weight fast",
        "weight loss pills", "you have won", "you've won", "claim your prize", "lottery", "jackpot",
        "online casino", "absolutely free", "risk-free", "act now", "limited time offer",
        "once in a lifetime", "make money fast", "earn money from home", "work from home",
        "double your money", "guaranteed income", "no credit check", "crypto investment",
        "bitcoin investment", "dear friend", "dear beneficiary", "unclaimed funds", "inheritance fund",
        "western union", "moneygram", "million dollars", "million usd", "replica watches",
        "hot singles",
    ),
    phish=(
        "verify your {account|identity|password|login}",
        "{confirm|update|validate} your {password|login|credentials}",
        "{account|mailbox} {has been|will be|is} {suspended|locked|disabled|deactivated|terminated}",
        "{mailbox|email} {storage|quota} {is full|full|exceeded}",
        "unusual sign-in activity",
    ),
)  # fmt: skip
# On lower-cased text: a case-sensitive literal prefix lets the regex engine skip ahead fast.
_URL_HOST = re.compile(r"https?://([^\s/?#\"'<>\\),;]+)")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
SHORTENERS = frozenset([
    "bit.ly", "tinyurl.com", "goo.gl", "ow.ly", "is.gd", "buff.ly", "t.ly", "cutt.ly", "rebrand.ly",
    "shorturl.at", "rb.gy", "tiny.cc", "v.gd", "s.id", "bl.ink", "shorte.st", "adf.ly",
])  # fmt: skip
_ADDRESS = re.compile(r"[\w.+-]+@((?:[\w-]+\.)+[a-z]{2,})", re.I)
_HIDDEN_TEXT = re.compile(
    r"<[a-z][^>]*\bstyle\s*=\s*[\"'][^\"']*"
    r"(?:display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0+(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:;|(?=[\"'])))"
    r"[^>]*>[^<]{20,}",
    re.I,
)
_BULK_MAILER = re.compile(
    r"mailchimp|sendgrid|sendinblue|brevo|mailerlite|mailjet|campaign\s*monitor|constant\s*contact"
    r"|getresponse|phplist|mautic|acymailing|mailpoet|sendy|interspire|klaviyo|activecampaign|aweber"
    r"|icontact|hubspot|exacttarget|mass\s*mail|bulk\s*mail|atomic\s*mail|sendblaster|group\s*mail"
    r"|newsletter",
    re.I,
)
EXECUTABLE_EXTENSIONS = (
    ".exe", ".scr", ".pif", ".com", ".bat", ".cmd", ".js", ".jse", ".vbs", ".vbe", ".wsf", ".wsh",
    ".hta", ".jar", ".ps1", ".lnk", ".cpl", ".msc",
)  # fmt: skip
_BULK_PRECEDENCE = frozenset(("bulk", "list", "junk"))


def _same_domain(a: str, b: str) -> bool:
    return a == b or a.endswith("." + b) or b.endswith("." + a)


class BuiltinClassifier:
    """Heuristics, bulk signals and a per-tenant fuzzy fingerprint; see the module docstring."""

    name = "builtin"

    def __init__(self, settings: SpamSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock  # the fingerprint window's clock (tests pass their own)
        self.fingerprints = FingerprintStore(
            window=settings.fingerprint_window.total_seconds(),
            max_clusters=settings.fingerprint_max_clusters,
            max_recipients=settings.fingerprint_mass,
        )

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def classify(self, msg: MessageInfo) -> Verdict:
        # Plain CPU work, bounded by the body budget: cheaper inline than a hop to a thread.
        try:
            return self.check(msg)
        except Exception as e:  # a bug here must not refuse or lose mail: the fail mode decides
            log.exception("built-in spam classifier failed on %s", msg.queue_id)
            return failure_verdict(self.name, self.settings.fail, f"builtin: {e!r}")

    def check(self, msg: MessageInfo) -> Verdict:
        """Classify synchronously (what `classify` runs)."""
        content = extract(msg.content)
        text = content.text
        if _GTUBE_BYTES in content.body_prefix or GTUBE in text:
            return self._verdict(["GTUBE"], [])
        headers = content.headers
        names = {k.lower() for k in headers.keys()}  # noqa: SIM118 (Message.keys() lists headers)
        subject = content.header("Subject")
        fired: list[str] = []

        # Header and content heuristics.
        letters = sum(1 for c in subject if c.isalpha())
        if letters >= 10 and subject.isupper() and len(subject.split()) >= 2:
            fired.append("SUBJ_ALL_CAPS")
        if subject.count("!") >= 3:
            fired.append("SUBJ_EXCLAIM")
        phrases = PHRASES.find(words(f"{subject}\n{text[:PHRASE_TEXT]}"))
        spam_phrases = len(phrases.get("spam", ()))
        if spam_phrases >= 3:
            fired.append("SPAM_PHRASES_MANY")
        elif spam_phrases:
            fired.append("SPAM_PHRASES")
        if "phish" in phrases:
            fired.append("PHISH_PHRASES")
        hosts = {h.rpartition("@")[2] for h in _URL_HOST.findall(text.lower())}
        for markup in content.html:
            hosts.update(h.rpartition("@")[2] for h in _URL_HOST.findall(markup.lower()))
        # Without port and the full stop of a sentence ending in a link; "[...]" is an IPv6 literal.
        hosts = {h if h.startswith("[") else h.rsplit(":", 1)[0].rstrip(".") for h in hosts}
        if any(h.startswith("[") or _IPV4.fullmatch(h) for h in hosts):
            fired.append("URL_IP_LITERAL")
        if not hosts.isdisjoint(SHORTENERS):
            fired.append("URL_SHORTENER")
        if "from" not in names:
            fired.append("MISSING_FROM")
        else:
            display, address = parseaddr(content.header("From"))
            spoofed = _ADDRESS.search(display)
            domain = address.rpartition("@")[2].lower()
            if spoofed and not _same_domain(spoofed.group(1).lower(), domain):
                fired.append("FROM_DISPLAY_SPOOF")
        if "date" not in names:
            fired.append("MISSING_DATE")
        if "message-id" not in names:
            fired.append("MISSING_MESSAGE_ID")
        if content.html and not content.plain:
            fired.append("HTML_ONLY")
            if any(_HIDDEN_TEXT.search(markup) for markup in content.html):
                fired.append("HTML_ONLY_HIDDEN_TEXT")
        if any(name.lower().endswith(EXECUTABLE_EXTENSIONS) for name in content.attachments):
            fired.append("EXECUTABLE_ATTACHMENT")

        # Bulk signals.
        bulk: list[str] = []
        if "list-unsubscribe" in names:
            bulk.append("BULK_LIST_UNSUBSCRIBE")
            if "list-unsubscribe=one-click" in content.header("List-Unsubscribe-Post").lower():
                bulk.append("BULK_ONE_CLICK_UNSUBSCRIBE")
        if content.header("Precedence").strip().lower() in _BULK_PRECEDENCE:
            bulk.append("BULK_PRECEDENCE")
        if "list-id" in names:
            bulk.append("BULK_LIST_ID")
        mailer = f"{content.header('X-Mailer')} {content.header('User-Agent')}"
        if _BULK_MAILER.search(mailer) or any(k.startswith("x-campaign") for k in names):
            bulk.append("BULK_MAILER")
        if len(msg.recipients) >= RCPT_MASS:
            bulk.append("BULK_RCPT_MASS")
        elif len(msg.recipients) >= RCPT_MANY:
            bulk.append("BULK_RCPT_MANY")
        body = sketch(text)
        if body is not None and msg.recipients:
            total, before = self.fingerprints.observe(msg.tenant, body, msg.recipients, self.clock())
            if before:  # the same body went out in an earlier message too
                if total >= self.settings.fingerprint_mass:
                    bulk.append("FINGERPRINT_MASS")
                elif total >= self.settings.fingerprint_repeat:
                    bulk.append("FINGERPRINT_REPEAT")
        return self._verdict(fired, bulk)

    def _verdict(self, fired: list[str], bulk: list[str]) -> Verdict:
        fired.sort(key=lambda t: -WEIGHTS[t])
        bulk.sort(key=lambda t: -BULK_POINTS[t])
        score = round(float(sum(WEIGHTS[t] for t in fired)), 2)
        level = min(9, sum(BULK_POINTS[t] for t in bulk))
        spam = score >= self.settings.score_threshold
        is_bulk = level >= self.settings.bulk_threshold
        return Verdict(
            spam=spam,
            score=score,
            bulk_level=level,
            tests=(*fired, *bulk),
            classifier=self.name,
            bulk=is_bulk,
            detection=detection_of(spam, is_bulk, ((t, WEIGHTS[t]) for t in fired)),
        )
