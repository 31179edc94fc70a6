"""A real DNS server on loopback for tests (dnslib): TXT, MX, A, AAAA records and DNSBL-style zones."""

from __future__ import annotations

import threading
from collections import defaultdict

from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer


class _Resolver(BaseResolver):
    def __init__(self, zone: LoopbackDNS) -> None:
        self.zone = zone

    def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        with self.zone.lock:
            self.zone.queries.append((qname, qtype))
            if qname in self.zone.silent:
                return None  # no answer at all: the client times out
            records = self.zone.records.get(qname)
        if not records:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rtype, rdata in records:
            if rtype == qtype:
                reply.add_answer(RR(qname, QTYPE.reverse[rtype], rdata=rdata, ttl=60))
        return reply


class LoopbackDNS:
    """`with LoopbackDNS() as dns: dns.add_txt("example.com", "v=..."); dns.port`"""

    def __init__(self) -> None:
        self.records: dict[str, list[tuple[str, object]]] = defaultdict(list)
        self.silent: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = DNSServer(
            _Resolver(self), address="127.0.0.1", port=0, logger=DNSLogger(logf=lambda _: None)
        )
        self.port: int = 0

    def start(self) -> LoopbackDNS:
        self.server.start_thread()
        self.port = self.server.server.server_address[1]
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> LoopbackDNS:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _add(self, name: str, rtype: str, rdata: object) -> None:
        with self.lock:
            self.records[name.rstrip(".").lower()].append((rtype, rdata))

    def add_txt(self, name: str, *strings: str) -> None:
        self._add(name, "TXT", TXT([s.encode() for s in strings]))

    def add_a(self, name: str, address: str) -> None:
        self._add(name, "A", A(address))

    def add_aaaa(self, name: str, address: str) -> None:
        self._add(name, "AAAA", AAAA(address))

    def add_mx(self, name: str, host: str, preference: int = 10) -> None:
        self._add(name, "MX", MX(host, preference))

    def reset(self) -> None:
        with self.lock:
            self.records.clear()
            self.silent.clear()
            self.queries.clear()

    def clear(self, name: str) -> None:
        with self.lock:
            self.records.pop(name.rstrip(".").lower(), None)
