"""Bounces: reading any bounce message and explaining it (`parse`, `explain`)."""

from outguard.ndr.parse import Failure, Report, parse

__all__ = ["Failure", "Report", "parse"]
