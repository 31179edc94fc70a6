"""Sliding-window counters the policy reads and the pipeline charges: one interface, two backends.

`EmbeddedCounters` (SQLite in the data directory, shared by the processes of one node) is the
default; `RedisCounters` shares counters between nodes when `redis_url` is set.

A window of `seconds` is kept as buckets of `bucket` seconds, each named by its start time. The
rolling sum at `now` counts the buckets whose start is > now - seconds, so an event stops counting
between `seconds - bucket` and `seconds` after it happened: the sum may miss at most one bucket at
the old edge (it errs lenient, never counts an event for longer than the window).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from outguard.config import Settings

__all__ = ["Counters", "CountersUnavailable", "Window", "bucket_start", "open_counters"]

_NAME = re.compile(r"^[a-z0-9_-]+$")


@dataclass(frozen=True, slots=True)
class Window:
    """A rolling window, declared once: `UNREGISTERED = Window("unregistered", 86400, 600)`."""

    name: str  # unique, [a-z0-9_-]+; it names the stored rows / Redis keys
    seconds: int  # rolling window length
    bucket: int  # bucket granularity in seconds; seconds % bucket == 0

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"window name must match [a-z0-9_-]+, got {self.name!r}")
        if not (isinstance(self.seconds, int) and isinstance(self.bucket, int)):
            raise ValueError(f"window {self.name}: seconds and bucket must be integers")
        if self.bucket <= 0 or self.seconds <= 0 or self.seconds % self.bucket:
            raise ValueError(
                f"window {self.name}: need 0 < bucket <= seconds and seconds % bucket == 0, "
                f"got seconds={self.seconds} bucket={self.bucket}"
            )


def bucket_start(window: Window, now: float) -> int:
    """Start (POSIX seconds) of the bucket of `window` that contains `now`."""
    t = int(now)
    return t - t % window.bucket


def cutoff(window: Window, now: float) -> int:
    """Buckets starting after this instant are inside the window at `now`."""
    # Bucket starts are integers, so `start > now - seconds` is `start > floor(now) - seconds`.
    return int(now) - window.seconds


def remember_window(known: dict[str, Window], window: Window) -> None:
    """Refuse two different windows under one name: they would read each other's buckets."""
    seen = known.setdefault(window.name, window)
    if seen is not window and seen != window:
        raise ValueError(f"two windows named {window.name!r}: {seen} and {window}")


class CountersUnavailable(Exception):
    """The counter store cannot be read or written (Redis down, SQLite file locked or broken).

    One exception for both backends, so the caller decides once whether to fail open or closed.
    """


class Counters(abc.ABC):
    """Sliding-window counters keyed by (window, key), e.g. (UNREGISTERED, "t:42")."""

    @abc.abstractmethod
    async def add(self, items: Sequence[tuple[Window, str, int]], now: float | None = None) -> None:
        """Add each amount (>= 0) to the bucket containing `now` (default: the current time)."""

    @abc.abstractmethod
    async def get(self, items: Sequence[tuple[Window, str]], now: float | None = None) -> list[int]:
        """Rolling sums at `now`, in the order asked; an unknown key is 0."""

    @abc.abstractmethod
    async def reset(self, window: Window, key: str) -> None:
        """Forget everything counted for `key` in `window` (e.g. a restricted user is released)."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Open connections and start background tasks; call once, inside the running loop."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush what is buffered and release connections; safe to call twice."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def open_counters(settings: Settings) -> Counters:
    """Redis when settings.redis_url is set, else the embedded store in settings.data_dir / 'counters.db'.

    The result is not started: `await counters.start()` (or `async with`) in the process that uses it.
    """
    if settings.redis_url:
        from outguard.counters.redis import RedisCounters

        return RedisCounters(settings.redis_url, prefix=settings.redis_prefix)
    from outguard.counters.embedded import EmbeddedCounters

    return EmbeddedCounters(settings.data_dir / "counters.db")
