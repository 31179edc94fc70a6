"""Fuzzy body fingerprints, and how many distinct recipients got the same body per tenant lately.

The sketch: the body text is normalised — lower-cased; quoted reply lines and everything after a
signature separator (RFC 3676 §4.3 "-- ") dropped; URLs cut to their host (no path, query string
or fragment: tracking tokens); digits dropped (order numbers, dates, prices); punctuation and
spacing ignored — and the words of its first `TEXT_LIMIT` characters are cut into 3-shingles. The `K`
smallest shingle hashes are the sketch (a bottom-k MinHash). Two bodies whose sketches share at
least `MATCH` of `K` values are the same body: a mailing personalised per recipient ("Dear Alice",
an order number, a tracking link) still matches, a different text does not. Bodies shorter than
`K + 2` words get no sketch ("see attached" is not a campaign).

The store keeps, per tenant and per process, clusters of matching sketches with the recipients
each reached within the window (sliding, per recipient). Memory is bounded: at most `max_clusters`
clusters (least recently seen evicted first; about 1 KB each) and at most `max_recipients` per
cluster (the count saturates there). Hashes are Python's salted `hash()`: stable within a process,
which is all an in-memory store needs, and not precomputable by a sender.
"""

from __future__ import annotations

import re
import string
from collections import OrderedDict
from collections.abc import Iterable

K = 8  # sketch size
MATCH = 6  # shared sketch values for two bodies to be the same (estimated resemblance >= ~0.75)
TEXT_LIMIT = 8192  # characters of body text fingerprinted: enough to tell campaigns apart

_QUOTED = re.compile(r"^[ \t]*>.*$", re.M)
_SIGNATURE = re.compile(r"^--[ ]?\r?$", re.M)
_URL_TAIL = re.compile(r"(https?://[^\s/?#<>\"']*)[^\s<>\"']*")
# Punctuation and digits separate words. ASCII text takes str.translate's fast path (ten times
# cheaper than a regex); other text the regex, which splits the same way.
_SEPARATORS = str.maketrans({c: " " for c in string.punctuation + string.digits})
_NON_WORD = re.compile(r"[\W\d_]+")


def words(text: str) -> list[str]:
    """Normalised words: lower case, URLs cut to their host, no punctuation, digits or spacing."""
    text = _URL_TAIL.sub(r"\1", text.lower())
    if text.isascii():
        return text.translate(_SEPARATORS).split()
    return _NON_WORD.sub(" ", text).split()


def sketch(text: str) -> tuple[int, ...] | None:
    """The bottom-k sketch of a body text, or None when the text is too short to fingerprint."""
    text = text[:TEXT_LIMIT]
    sig = _SIGNATURE.search(text)
    if sig:
        text = text[: sig.start()]
    w = words(_QUOTED.sub(" ", text))
    hashes = set(map(hash, zip(w, w[1:], w[2:], strict=False)))
    if len(hashes) < K:
        return None
    return tuple(sorted(hashes)[:K])


class _Cluster:
    __slots__ = ("keys", "last", "recipients")

    def __init__(self, keys: tuple[int, ...], now: float) -> None:
        self.keys = keys  # the first sketch's values, salted by tenant: its index entries
        self.recipients: dict[int, float] = {}  # recipient hash -> last seen, oldest first
        self.last = now


class FingerprintStore:
    """Distinct recipients per fuzzy body fingerprint and tenant, within a sliding window."""

    def __init__(self, window: float, max_clusters: int, max_recipients: int) -> None:
        self.window = window
        self.max_clusters = max_clusters
        self.max_recipients = max_recipients
        self._index: dict[int, _Cluster] = {}  # salted sketch value -> cluster
        self._clusters: OrderedDict[int, _Cluster] = OrderedDict()  # least recently seen first

    def __len__(self) -> int:
        return len(self._clusters)

    def observe(
        self, tenant: str, body: tuple[int, ...], recipients: Iterable[str], now: float
    ) -> tuple[int, int]:
        """Record that `recipients` got this body now. Returns (distinct recipients of this body in
        the window, this message's included; how many of them came from earlier messages)."""
        self._expire(now)
        salt = hash(tenant)
        keys = tuple(v ^ salt for v in body)
        cluster = self._match(keys)
        if cluster is None:
            cluster = _Cluster(keys, now)
            for k in keys:
                self._index[k] = cluster
            self._clusters[id(cluster)] = cluster
            while len(self._clusters) > self.max_clusters:
                self._evict(self._clusters.popitem(last=False)[1])
        else:
            self._clusters.move_to_end(id(cluster))
        cluster.last = now
        seen = cluster.recipients
        cutoff = now - self.window
        while seen:
            oldest = next(iter(seen))
            if seen[oldest] > cutoff:
                break
            del seen[oldest]
        before = len(seen)
        for rcpt in recipients:
            key = hash(rcpt.lower())
            seen.pop(key, None)
            seen[key] = now
        while len(seen) > self.max_recipients:
            del seen[next(iter(seen))]
        return len(seen), before

    def _match(self, keys: tuple[int, ...]) -> _Cluster | None:
        votes: dict[int, int] = {}
        for k in keys:
            cluster = self._index.get(k)
            if cluster is not None:
                n = votes[id(cluster)] = votes.get(id(cluster), 0) + 1
                if n >= MATCH:
                    return cluster
        return None

    def _expire(self, now: float) -> None:
        cutoff = now - self.window
        while self._clusters:
            cluster = next(iter(self._clusters.values()))
            if cluster.last > cutoff:
                return
            del self._clusters[id(cluster)]
            self._evict(cluster)

    def _evict(self, cluster: _Cluster) -> None:
        for k in cluster.keys:
            if self._index.get(k) is cluster:
                del self._index[k]
