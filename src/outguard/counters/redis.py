"""The Redis counter store: counters shared, atomically, by every gateway node using one Redis.

One hash per (window, key) at `<prefix>cnt:<window>:<key>` (prefix `og:` by default), with a field
per bucket start holding that bucket's count. `add` and `get` are one Lua script call each, however
many items they carry: one round trip, and atomic, so a reader never sees half of a message's adds.

- add: HINCRBY the bucket's field, then EXPIRE the hash `seconds + bucket` after its newest add, so
  a key nobody touches any more disappears on its own.
- get: sum the fields still inside the window and HDEL the ones that have left it (those can never
  count again, as long as callers' clocks move forward), so a hash holds at most seconds / bucket
  (+1) fields once it is read.
- reset: DEL.

Bucket times come from the caller's clock (or the injected `now`); nodes are expected to run NTP,
and a skew of a few seconds is small against buckets of minutes. The scripts touch several keys,
so this needs a single Redis (or a primary behind Sentinel), not Redis Cluster.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from outguard.counters import Counters, CountersUnavailable, Window, bucket_start, cutoff, remember_window

# KEYS[i]: a (window, key) hash; ARGV[3i-2 .. 3i]: bucket start, amount, TTL in seconds.
_ADD = """
for i, key in ipairs(KEYS) do
    local j = 3 * i - 2
    redis.call('HINCRBY', key, ARGV[j], ARGV[j + 1])
    redis.call('EXPIRE', key, ARGV[j + 2])
end
return #KEYS
"""

# KEYS[i]: a (window, key) hash; ARGV[i]: the cutoff, buckets starting after it count.
# Returns the sums in KEYS order; deletes the fields at or before the cutoff.
_GET = """
local sums = {}
for i, key in ipairs(KEYS) do
    local edge = tonumber(ARGV[i])
    local fields = redis.call('HGETALL', key)
    local total, old = 0, {}
    for j = 1, #fields, 2 do
        if tonumber(fields[j]) > edge then
            total = total + tonumber(fields[j + 1])
        else
            old[#old + 1] = fields[j]
        end
    end
    -- In slices: unpack() of a very long list would overflow Lua's stack.
    for s = 1, #old, 1000 do
        redis.call('HDEL', key, unpack(old, s, math.min(s + 999, #old)))
    end
    sums[i] = total
end
return sums
"""


def _redact(url: str) -> str:
    return re.sub(r"//[^@/]*@", "//***@", url)


class RedisCounters(Counters):
    """Counters in Redis; see the module docstring for the key layout and the scripts."""

    def __init__(self, url: str, *, prefix: str = "og:", timeout: float = 2.0) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self._client: aioredis.Redis | None = None
        self._add: AsyncScript | None = None
        self._get: AsyncScript | None = None
        self._windows: dict[str, Window] = {}

    def key(self, window: Window, key: str) -> str:
        """The Redis key holding `key`'s buckets in `window`."""
        return f"{self.prefix}cnt:{window.name}:{key}"

    async def start(self) -> None:
        if self._client is not None:
            raise RuntimeError("RedisCounters.start() called twice")
        client = aioredis.Redis.from_url(
            self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
        )
        try:
            # Fail at start-up, with the address in the message, rather than on the first message.
            await client.ping()
        except (RedisError, OSError) as e:
            await client.aclose()
            raise CountersUnavailable(f"Redis at {_redact(self.url)}: {e}") from e
        self._client = client
        # register_script sends EVALSHA and loads the script on NOSCRIPT (after a Redis restart).
        self._add = client.register_script(_ADD)
        self._get = client.register_script(_GET)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def add(self, items: Sequence[tuple[Window, str, int]], now: float | None = None) -> None:
        if self._client is None:
            raise RuntimeError("RedisCounters is not started")
        if now is None:
            now = time.time()
        keys: list[str] = []
        args: list[int] = []
        for window, key, n in items:
            if n < 0:
                raise ValueError(f"counter amounts are >= 0, got {n} for {window.name}:{key}")
            if self._windows.get(window.name) is not window:
                remember_window(self._windows, window)
            if n:
                keys.append(self.key(window, key))
                # The newest bucket counts for `seconds` after its start; one bucket of margin.
                args += (bucket_start(window, now), n, window.seconds + window.bucket)
        if keys:
            await self._call(self._add, keys, args)

    async def get(self, items: Sequence[tuple[Window, str]], now: float | None = None) -> list[int]:
        if self._client is None:
            raise RuntimeError("RedisCounters is not started")
        if not items:
            return []
        if now is None:
            now = time.time()
        keys = []
        args = []
        for window, key in items:
            if self._windows.get(window.name) is not window:
                remember_window(self._windows, window)
            keys.append(self.key(window, key))
            args.append(cutoff(window, now))
        return [int(n) for n in await self._call(self._get, keys, args)]

    async def reset(self, window: Window, key: str) -> None:
        if self._client is None:
            raise RuntimeError("RedisCounters is not started")
        remember_window(self._windows, window)
        try:
            await self._client.delete(self.key(window, key))
        except (RedisError, OSError) as e:
            raise CountersUnavailable(f"Redis at {_redact(self.url)}: {e}") from e

    async def _call(self, script: AsyncScript | None, keys: list[str], args: Sequence[int]) -> Any:
        assert script is not None
        try:
            return await script(keys=keys, args=args)
        except (RedisError, OSError) as e:
            raise CountersUnavailable(f"Redis at {_redact(self.url)}: {e}") from e
