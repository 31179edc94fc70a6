"""Bounces: reading any bounce message (`parse`), explaining it in plain language (`explain`), and
building Outguard's own NDRs (`build.build_report`)."""

from outguard.ndr.explain import Explanation, explain
from outguard.ndr.parse import Failure, Report, parse

__all__ = ["Explanation", "Failure", "Report", "explain", "parse"]
