"""Outguard: a multi-tenant outbound mail gateway."""

__version__ = "0.1.0"
