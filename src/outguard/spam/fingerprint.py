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
clusters (about 1 KB each; bodies seen once are evicted before bodies seen again, oldest first) and
at most `max_recipients` per cluster (the count saturates there). Hashes are Python's salted `hash()`: stable within a process,
which is all an in-memory store needs, and not precomputable by a sender.
"""

from __future__ import annotations

import heapq
import re
import string
from collections import OrderedDict
from collections.abc import Iterable

K = 8  # sketch size
MATCH = 6  # shared sketch values for two bodies to be the same (estimated resemblance >= ~0.75)
TEXT_LIMIT = 4096  # characters of body text fingerprinted: enough to tell campaigns apart

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
    return tuple(heapq.nsmallest(K, hashes))


class _Cluster:
    __slots__ = ("keys", "last", "recipients", "repeated")

    def __init__(self, keys: tuple[int, ...], now: float) -> None:
        self.keys = keys  # the first sketch's values, salted by tenant: its index entries
        self.recipients: dict[int, float] = {}  # recipient hash -> last seen, oldest first
        self.last = now
        self.repeated = False  # seen in more than one message


class FingerprintStore:
    """Distinct recipients per fuzzy body fingerprint and tenant, within a sliding window.

    Clusters live in a segmented LRU: a body seen once waits in `_once`; a second message promotes
    it to `_repeated` (at most half the clusters). When the store is full the oldest body seen once
    goes first, so a flood of one-off mail does not push a slow campaign out of memory."""

    def __init__(self, window: float, max_clusters: int, max_recipients: int) -> None:
        self.window = window
        self.max_clusters = max_clusters
        self.max_repeated = max(1, max_clusters // 2)
        self.max_recipients = max_recipients
        self._index: dict[int, _Cluster] = {}  # salted sketch value -> cluster
        # id(cluster) -> cluster, least recently seen first.
        self._once: OrderedDict[int, _Cluster] = OrderedDict()
        self._repeated: OrderedDict[int, _Cluster] = OrderedDict()

    def __len__(self) -> int:
        return len(self._once) + len(self._repeated)

    def observe(
        self, tenant: str, body: tuple[int, ...], recipients: Iterable[str], now: float
    ) -> tuple[int, int]:
        """Record that `recipients` got this body now. Returns (distinct recipients of this body in
        the window, this message's included; how many of them came from earlier messages)."""
        self._expire(self._once, now)
        self._expire(self._repeated, now)
        salt = hash(tenant)
        keys = tuple(v ^ salt for v in body)
        cluster = self._match(keys)
        if cluster is None:
            cluster = _Cluster(keys, now)
            for k in keys:
                self._index[k] = cluster
            self._once[id(cluster)] = cluster
            while len(self) > self.max_clusters:
                segment = self._once or self._repeated
                self._evict(segment.popitem(last=False)[1])
        elif cluster.repeated:
            self._repeated.move_to_end(id(cluster))
        else:
            del self._once[id(cluster)]
            cluster.repeated = True
            self._repeated[id(cluster)] = cluster
            if len(self._repeated) > self.max_repeated:  # demote the stalest back to the once segment
                _, stale = self._repeated.popitem(last=False)
                stale.repeated = False
                self._once[id(stale)] = stale
                # First in line for eviction. Expiry, which walks each segment from its oldest end,
                # may then see later-expired clusters a little late: memory stays bounded, and the
                # counts are exact anyway (every recipient carries its own time).
                self._once.move_to_end(id(stale), last=False)
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

    def _expire(self, segment: OrderedDict[int, _Cluster], now: float) -> None:
        cutoff = now - self.window
        while segment:
            cluster = next(iter(segment.values()))
            if cluster.last > cutoff:
                return
            del segment[id(cluster)]
            self._evict(cluster)

    def _evict(self, cluster: _Cluster) -> None:
        for k in cluster.keys:
            if self._index.get(k) is cluster:
                del self._index[k]
