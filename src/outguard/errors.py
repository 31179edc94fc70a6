"""Errors the services raise; each maps to one CLI exit and one HTTP status, and names the bad value."""

from __future__ import annotations


class OutguardError(Exception):
    """Base class: `str(err)` is the one line shown to the user."""

    status = 400


class InvalidValue(OutguardError):
    status = 422

    def __init__(self, what: str, value: object, why: str) -> None:
        self.what, self.value, self.why = what, value, why
        super().__init__(f"invalid {what} {value!r}: {why}")


class NotFound(OutguardError):
    status = 404


class Conflict(OutguardError):
    """Duplicate or contradictory configuration (an IP range of two tenants, a value already listed)."""

    status = 409


class QuotaExceeded(Conflict):
    pass


class Forbidden(OutguardError):
    status = 403


class Unauthorized(OutguardError):
    status = 401


class LookupFailed(OutguardError):
    """An external lookup (DNS) failed; the message says which and why."""

    status = 502
