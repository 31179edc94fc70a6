"""Where a recipient domain's mail goes: the smart host, or the domain's MX hosts (RFC 5321 §5.1).

Lookups go through dnspython with the configured resolver (and its cache), so tests run against a
real DNS server on loopback and production against the system's resolvers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import socket
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver


@dataclass(frozen=True)
class NextHop:
    name: str  # host name as routed (MX target or smart host), for traces and Remote-MTA
    address: str  # IP address to connect to
    port: int


class RouteError(Exception):
    """No route: `permanent` decides between a bounce and a retry; `status` is the enhanced code."""

    def __init__(self, permanent: bool, status: str, text: str) -> None:
        super().__init__(text)
        self.permanent, self.status, self.text = permanent, status, text


class Router:
    def __init__(
        self, resolver: dns.asyncresolver.Resolver, *, smarthost: tuple[str, int] | None, mx_port: int = 25
    ) -> None:
        self.resolver = resolver
        self.resolver.cache = dns.resolver.LRUCache(10_000)
        self.smarthost = smarthost
        self.mx_port = mx_port

    def key(self, domain: str) -> str:
        """Recipients with the same key travel in one SMTP transaction."""
        return "smarthost" if self.smarthost else domain

    async def route(self, domain: str, override: tuple[str, int] | None = None) -> list[NextHop]:
        target = override or self.smarthost
        if target:
            host, port = target
            try:
                return [NextHop(host, a, port) for a in await self._addresses(host, smarthost=True)]
            except RouteError as e:  # a broken smart host is the operator's to fix: keep the mail queued
                raise RouteError(False, "4.4.3", e.text)
        return await self._mx(domain)

    async def _mx(self, domain: str) -> list[NextHop]:
        try:
            answer = await self.resolver.resolve(domain, "MX")
            mxs = sorted((r.preference, random.random(), str(r.exchange).rstrip(".")) for r in answer)
        except dns.resolver.NXDOMAIN:
            raise RouteError(True, "5.1.2", f"Host or domain name not found: {domain}: NXDOMAIN")
        except dns.resolver.NoAnswer:
            mxs = [(0, 0.0, domain)]  # no MX: the domain itself is the implicit MX (RFC 5321 §5.1)
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
            raise RouteError(False, "4.4.3", f"Host or domain name lookup failed: {domain}: {e}")
        if len(mxs) == 1 and mxs[0][2] in ("", "."):
            raise RouteError(True, "5.1.10", f"Recipient domain {domain} accepts no mail (null MX, RFC 7505)")
        hops: list[NextHop] = []
        last: RouteError | None = None
        for _, _, host in mxs:
            try:
                hops += [NextHop(host, a, self.mx_port) for a in await self._addresses(host)]
            except RouteError as e:
                last = e
        if not hops:
            raise last or RouteError(True, "5.1.2", f"No address for any MX host of {domain}")
        return hops

    async def _addresses(self, host: str, *, smarthost: bool = False) -> list[str]:
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        found: list[str] = []
        transient: Exception | None = None
        for rdtype in ("A", "AAAA"):
            try:
                found += [r.address for r in await self.resolver.resolve(host, rdtype)]
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
                transient = e
        if found:
            return found
        if smarthost:  # a smart host may be a name from /etc/hosts (e.g. localhost)
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
                return list(dict.fromkeys(str(i[4][0]) for i in infos))
            except OSError as e:
                transient = transient or e
        if transient is not None:
            raise RouteError(False, "4.4.3", f"Host name lookup failed: {host}: {transient}")
        raise RouteError(True, "5.1.2", f"Host not found: {host}")
