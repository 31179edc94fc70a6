"""The DNS resolver every part uses, built from `[dns]` settings (tests point it at a loopback server)."""

from __future__ import annotations

import dns.asyncresolver
import dns.resolver

from outguard.config import DnsSettings


def _configure(r: dns.resolver.Resolver, cfg: DnsSettings) -> None:
    if cfg.nameservers:
        r.nameservers = list(cfg.nameservers)
        r.port = cfg.port
    r.timeout = r.lifetime = cfg.timeout.total_seconds()


def resolver(cfg: DnsSettings) -> dns.resolver.Resolver:
    r = dns.resolver.Resolver(configure=not cfg.nameservers)
    _configure(r, cfg)
    return r


def async_resolver(cfg: DnsSettings) -> dns.asyncresolver.Resolver:
    r = dns.asyncresolver.Resolver(configure=not cfg.nameservers)
    _configure(r, cfg)
    return r
