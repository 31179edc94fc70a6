"""Bounces: reading any bounce message (`parse`) and explaining it in plain language (`explain`)."""

from outguard.ndr.explain import Explanation, explain
from outguard.ndr.parse import Failure, Report, parse

__all__ = ["Explanation", "Failure", "Report", "explain", "parse"]
