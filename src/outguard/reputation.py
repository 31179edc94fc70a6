"""Client IP reputation for 5.7.708: the local low-reputation list, DNSBL zones, and the gateway's
own history of an IP (first seen recently and sending mostly spam).

Each source can fail open or closed (`[reputation] fail`); a failed lookup is reported so the
trace shows it. DNSBL answers are cached for `[reputation] cache_ttl`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field

import dns.asyncresolver
import dns.exception
import dns.resolver

from outguard.config import ReputationSettings
from outguard.store.snapshot import Snapshot

# Own history: an IP with fewer than this many messages in 7 days is "new"; a new IP whose mail of
# the last day is at least this share spam (with at least MIN_SPAM spam messages) is low reputation.
NEW_IP_MESSAGES = 200
SPAM_SHARE = 0.5
MIN_SPAM = 5


@dataclass(frozen=True)
class ReputationResult:
    listed: bool
    source: str = ""  # local | dnsbl:<zone> | history
    detail: str = ""
    failures: tuple[str, ...] = field(default=())  # sources that could not answer


class Reputation:
    def __init__(
        self, settings: ReputationSettings, snapshot: Snapshot, resolver: dns.asyncresolver.Resolver
    ) -> None:
        self.settings, self.snapshot, self.resolver = settings, snapshot, resolver
        self._cache: dict[tuple[str, str], tuple[float, bool, str]] = {}

    async def check(self, ip: str, history: tuple[int, int, int] | None = None) -> ReputationResult:
        """`history`: (messages in 7 days, messages in 1 day, spam in 1 day) for this IP."""
        now = time.time()
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return ReputationResult(False)
        if isinstance(addr, ipaddress.IPv4Address):
            hit = self.snapshot.low_reputation.find(int(addr), now)
            if hit is not None:
                return ReputationResult(True, "local", f"on the low-reputation list ({hit.label})")
        if history is not None and self.settings.own_history:
            week, day, spam = history
            if week < NEW_IP_MESSAGES and spam >= MIN_SPAM and day and spam / day >= SPAM_SHARE:
                return ReputationResult(
                    True,
                    "history",
                    f"new IP ({week} messages in 7 days) sending mostly spam ({spam} of {day} today)",
                )
        failures: list[str] = []
        if self.settings.dnsbl_zones:
            results = await asyncio.gather(*(self._dnsbl(addr, z, now) for z in self.settings.dnsbl_zones))
            for zone, (listed, detail) in zip(self.settings.dnsbl_zones, results, strict=True):
                if listed is None:
                    failures.append(f"dnsbl:{zone}: {detail}")
                elif listed:
                    return ReputationResult(True, f"dnsbl:{zone}", detail, tuple(failures))
        if failures and self.settings.fail == "closed":
            return ReputationResult(True, "lookup-failed", "; ".join(failures), tuple(failures))
        return ReputationResult(False, failures=tuple(failures))

    async def _dnsbl(
        self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address, zone: str, now: float
    ) -> tuple[bool | None, str]:
        cached = self._cache.get((str(addr), zone))
        if cached and cached[0] > now:
            return cached[1], cached[2]
        # RFC 5782: the address reversed, nibble by nibble for IPv6, under the zone.
        query = addr.reverse_pointer.rsplit(".in-addr.arpa", 1)[0].rsplit(".ip6.arpa", 1)[0] + "." + zone
        timeout = self.settings.dnsbl_timeout.total_seconds()
        try:
            answer = await self.resolver.resolve(query, "A", lifetime=timeout)
            codes = [r.address for r in answer]
            listed = any(c.startswith("127.") for c in codes)
            detail = f"{zone} returned {', '.join(codes)}"
        except dns.resolver.NXDOMAIN:
            listed, detail = False, ""
        except dns.resolver.NoAnswer:
            listed, detail = False, ""
        except (dns.exception.Timeout, dns.resolver.NoNameservers, dns.resolver.LifetimeTimeout) as e:
            return None, f"lookup failed: {type(e).__name__}"
        self._cache[(str(addr), zone)] = (now + self.settings.cache_ttl.total_seconds(), listed, detail)
        if len(self._cache) > 100_000:
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return listed, detail
