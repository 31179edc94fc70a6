"""Sliding-window counters: one suite run against both backends (embedded SQLite and Redis), then
what only one backend promises (flush and purge for SQLite, instant sharing for Redis)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from outguard.config import Settings
from outguard.counters import Counters, CountersUnavailable, Window, open_counters
from outguard.counters.embedded import EmbeddedCounters
from outguard.counters.redis import RedisCounters
from tests.conftest import REDIS_URL, service_unavailable

HOUR = Window("hour", seconds=3600, bucket=60)
DAY = Window("day", seconds=86400, bucket=600)
# A bucket-aligned instant in the future, so nothing a test adds is ever older than real time
# (the embedded purge and Redis' key expiry run on the real clock).
T0 = (int(time.time()) // 86400 + 2) * 86400


@dataclass
class Backend:
    name: str
    open: Callable[[], Counters]  # another, unstarted instance on the same store


@pytest.fixture(params=["embedded", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "embedded":
        # A short flush interval, so flushes really happen between the operations of a test.
        yield Backend("embedded", lambda: EmbeddedCounters(tmp_path / "counters.db", flush_interval=0.005))
        return
    prefix = f"og-test-{uuid.uuid4().hex[:12]}:"
    admin = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        await admin.ping()
    except Exception as e:
        await admin.aclose()
        service_unavailable("Redis", e)
    try:
        yield Backend("redis", lambda: RedisCounters(REDIS_URL, prefix=prefix))
    finally:
        # Only our own keys: the server (and DB 15) may be shared with other test runs.
        async for k in admin.scan_iter(match=f"{prefix}*"):
            await admin.delete(k)
        await admin.aclose()


@pytest.fixture
async def counters(backend: Backend) -> AsyncIterator[Counters]:
    c = backend.open()
    await c.start()
    yield c
    await c.close()


# The shared suite ------------------------------------------------------------------------------


async def test_unknown_key_counts_zero(counters: Counters) -> None:
    assert await counters.get([(HOUR, "t:1"), (DAY, "s:1:nobody@example.com")], now=T0) == [0, 0]
    assert await counters.get([], now=T0) == []


async def test_add_then_get(counters: Counters) -> None:
    await counters.add([(HOUR, "t:42", 1)], now=T0)
    assert await counters.get([(HOUR, "t:42")], now=T0) == [1]
    assert await counters.get([(HOUR, "t:43")], now=T0) == [0]


async def test_amounts_add_up(counters: Counters) -> None:
    # Recipient counts: one message adds its number of recipients.
    await counters.add([(HOUR, "s:42:alice@example.com", 17)], now=T0)
    await counters.add([(HOUR, "s:42:alice@example.com", 25)], now=T0 + 61)
    await counters.add([(HOUR, "s:42:alice@example.com", 0)], now=T0 + 62)
    assert await counters.get([(HOUR, "s:42:alice@example.com")], now=T0 + 62) == [42]


async def test_several_keys_and_windows_in_one_call(counters: Counters) -> None:
    await counters.add([(HOUR, "t:1", 1), (HOUR, "t:2", 2), (DAY, "t:1", 3), (HOUR, "t:1", 4)], now=T0)
    got = await counters.get(
        [(HOUR, "t:1"), (HOUR, "t:2"), (DAY, "t:1"), (DAY, "t:2"), (HOUR, "t:1")], now=T0
    )
    assert got == [5, 2, 3, 0, 5]


async def test_many_items_in_one_call(counters: Counters) -> None:
    # A message with many recipients, one counter each: more than one SQL statement's worth.
    items = [(HOUR, f"s:1:user{i}@example.com", i % 7) for i in range(1200)]
    await counters.add(items, now=T0)
    assert await counters.get([(w, k) for w, k, _ in items], now=T0) == [n for *_, n in items]


async def test_rolling_window_forgets_buckets_older_than_the_window(counters: Counters) -> None:
    await counters.add([(HOUR, "t:1", 1), (DAY, "t:1", 1)], now=T0)
    await counters.add([(HOUR, "t:1", 10), (DAY, "t:1", 10)], now=T0 + 1800)
    assert await counters.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 3599) == [11, 11]
    assert await counters.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 3600) == [10, 11]
    assert await counters.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 5399) == [10, 11]
    assert await counters.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 5400) == [0, 11]
    assert await counters.get([(DAY, "t:1")], now=T0 + 86400) == [10]
    assert await counters.get([(DAY, "t:1")], now=T0 + 86400 + 1800) == [0]
    # The window keeps rolling: new adds count again.
    await counters.add([(HOUR, "t:1", 5)], now=T0 + 86400 + 1800)
    assert await counters.get([(HOUR, "t:1")], now=T0 + 86400 + 1800) == [5]


async def test_bucket_edge_drops_an_event_at_most_one_bucket_early(counters: Counters) -> None:
    # Added in the last second of the bucket starting at T0: it counts until that bucket leaves
    # the window at T0 + 3600, i.e. for 3541 s instead of 3600 — never longer than the window.
    await counters.add([(HOUR, "t:1", 1)], now=T0 + 59.5)
    assert await counters.get([(HOUR, "t:1")], now=T0 + 3599.9) == [1]
    assert await counters.get([(HOUR, "t:1")], now=T0 + 3600) == [0]


async def test_reset_forgets_one_key_in_one_window(counters: Counters) -> None:
    await counters.add([(HOUR, "s:1:a@example.com", 3), (HOUR, "s:1:b@example.com", 4)], now=T0)
    await counters.add([(DAY, "s:1:a@example.com", 5)], now=T0 + 120)
    await counters.reset(HOUR, "s:1:a@example.com")
    items = [(HOUR, "s:1:a@example.com"), (HOUR, "s:1:b@example.com"), (DAY, "s:1:a@example.com")]
    assert await counters.get(items, now=T0 + 120) == [0, 4, 5]
    await counters.add([(HOUR, "s:1:a@example.com", 2)], now=T0 + 180)
    assert await counters.get(items, now=T0 + 180) == [2, 4, 5]
    await counters.reset(HOUR, "never-counted")  # not an error


async def test_reads_see_own_adds_at_once_and_exactly_once(counters: Counters) -> None:
    # Interleaves adds and reads with background flushes (embedded: every 5 ms), so reads land
    # before, during and after flushes; each must count every add exactly once.
    rng = random.Random(1)
    total = 0
    deadline = time.monotonic() + 0.5
    i = 0
    while i < 300 or time.monotonic() < deadline:
        n = rng.randint(1, 5)
        await counters.add([(HOUR, "t:1", n), (DAY, "t:1", 1)], now=T0 + i % 60)
        total += n
        i += 1
        assert await counters.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 60) == [total, i]
        await asyncio.sleep(0 if i % 20 else 0.001)


async def test_concurrent_adds_sum_exactly(backend: Backend, counters: Counters) -> None:
    async def sender(k: int) -> None:
        for j in range(20):
            await counters.add([(HOUR, "t:1", 1), (DAY, "t:1", k)], now=T0 + j)
            if j % 5 == 0:
                await asyncio.sleep(0)

    await asyncio.gather(*(sender(k) for k in range(100)))
    expected = [100 * 20, 20 * sum(range(100))]
    assert await counters.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 60) == expected
    await counters.close()
    async with backend.open() as reopened:
        assert await reopened.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 60) == expected


async def test_counts_survive_close_and_reopen(backend: Backend) -> None:
    async with backend.open() as first:
        await first.add([(HOUR, "t:1", 7), (DAY, "s:1:a@example.com", 3)], now=T0)
        await first.reset(DAY, "t:gone")
    async with backend.open() as second:
        got = await second.get([(HOUR, "t:1"), (DAY, "s:1:a@example.com")], now=T0 + 1)
        assert got == [7, 3]
        await second.reset(HOUR, "t:1")
    async with backend.open() as third:
        assert await third.get([(HOUR, "t:1"), (DAY, "s:1:a@example.com")], now=T0 + 2) == [0, 3]


async def test_instances_sharing_a_store_add_up(backend: Backend) -> None:
    # Two processes of a node (embedded) or two nodes (Redis), each with its own instance.
    async with backend.open() as a, backend.open() as b:
        await a.add([(HOUR, "t:1", 2)], now=T0)
        await b.add([(HOUR, "t:1", 3)], now=T0 + 1)
        await a.close()
        # b reads a's flushed adds from the store, plus its own.
        assert await b.get([(HOUR, "t:1")], now=T0 + 2) == [5]
    async with backend.open() as c:
        assert await c.get([(HOUR, "t:1")], now=T0 + 2) == [5]


async def test_refuses_negative_amounts_and_conflicting_windows(counters: Counters) -> None:
    with pytest.raises(ValueError, match="amounts are >= 0"):
        await counters.add([(HOUR, "t:1", -1)], now=T0)
    await counters.add([(HOUR, "t:1", 1)], now=T0)
    with pytest.raises(ValueError, match="two windows named 'hour'"):
        await counters.get([(Window("hour", seconds=7200, bucket=60), "t:1")], now=T0)
    # An equal declaration elsewhere is the same window.
    assert await counters.get([(Window("hour", seconds=3600, bucket=60), "t:1")], now=T0) == [1]


# Windows and wiring -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "seconds", "bucket", "problem"),
    [
        ("Hour", 3600, 60, "must match"),
        ("t:1", 3600, 60, "must match"),
        ("", 3600, 60, "must match"),
        ("hour", 3600, 7, "seconds % bucket"),
        ("hour", 60, 3600, "seconds % bucket"),
        ("hour", 0, 60, "seconds % bucket"),
        ("hour", 3600, 0, "seconds % bucket"),
        ("hour", 3600.0, 60, "integers"),
    ],
)
def test_window_refuses_bad_declarations(name: str, seconds: int, bucket: int, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Window(name, seconds=seconds, bucket=bucket)


async def test_open_counters_is_embedded_without_redis_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    counters = open_counters(settings)
    assert isinstance(counters, EmbeddedCounters)
    assert counters.path == tmp_path / "data" / "counters.db"
    async with counters:  # creates the data directory and the file
        await counters.add([(HOUR, "t:1", 1)], now=T0)
    assert (tmp_path / "data" / "counters.db").exists()


def test_open_counters_is_redis_with_redis_url(tmp_path: Path) -> None:
    counters = open_counters(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/15"))
    assert isinstance(counters, RedisCounters)
    assert counters.url == "redis://127.0.0.1:6379/15"


async def test_unreachable_redis_is_reported_at_start() -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    counters = RedisCounters("redis://:secret@127.0.0.1:1/0", timeout=1)
    with pytest.raises(CountersUnavailable, match=r"Redis at redis://\*\*\*@127\.0\.0\.1:1/0") as err:
        await counters.start()
    assert "secret" not in str(err.value)


# Embedded: buffering, flushing, locking, purging --------------------------------------------------


def _rows(path: Path) -> list[tuple[str, str, int, int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT window, key, bucket_start, n FROM buckets ORDER BY 1, 2, 3").fetchall()


async def test_embedded_close_flushes_the_buffer(tmp_path: Path) -> None:
    path = tmp_path / "counters.db"
    async with EmbeddedCounters(path, flush_interval=3600) as c:
        await c.add([(HOUR, "t:1", 2), (HOUR, "t:1", 3), (DAY, "t:1", 1)], now=T0 + 1)
        await c.add([(HOUR, "t:1", 4)], now=T0 + 61)
        assert _rows(path) == []  # buffered, not yet written
    assert _rows(path) == [("day", "t:1", T0, 1), ("hour", "t:1", T0, 5), ("hour", "t:1", T0 + 60, 4)]


async def test_embedded_sees_another_instance_s_flushed_adds_without_reopening(tmp_path: Path) -> None:
    path = tmp_path / "counters.db"
    async with EmbeddedCounters(path, flush_interval=0.01) as a, EmbeddedCounters(path) as b:
        await a.add([(HOUR, "t:1", 3)], now=T0)
        # Staleness across processes is bounded by a's flush interval (plus the write).
        deadline = time.monotonic() + 10
        while (got := await b.get([(HOUR, "t:1")], now=T0)) != [3] and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert got == [3]


async def test_embedded_write_lock_held_elsewhere_delays_flushes_not_reads(tmp_path: Path) -> None:
    path = tmp_path / "counters.db"
    async with EmbeddedCounters(path, flush_interval=3600, busy_timeout=0.05) as c:
        await c.add([(HOUR, "t:1", 1)], now=T0)
        await c.flush()
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            await c.add([(HOUR, "t:1", 2)], now=T0)
            with pytest.raises(CountersUnavailable, match="locked"):
                await c.flush()
            # The failed batch went back to the buffer: still counted, exactly once.
            assert await c.get([(HOUR, "t:1")], now=T0) == [3]
            await c.add([(HOUR, "t:1", 4)], now=T0)
            assert await c.get([(HOUR, "t:1")], now=T0) == [7]
        finally:
            other.execute("ROLLBACK")
            other.close()
        await c.flush()
        assert await c.get([(HOUR, "t:1")], now=T0) == [7]
    assert _rows(path) == [("hour", "t:1", T0, 7)]


async def test_embedded_background_flush_retries_after_an_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "counters.db"

    async def until(condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async with EmbeddedCounters(path, flush_interval=0.005, busy_timeout=0.01) as c:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            await c.add([(HOUR, "t:1", 2)], now=T0)
            await until(lambda: "retrying" in caplog.text)
            await asyncio.sleep(0.05)  # several more failed attempts
            assert await c.get([(HOUR, "t:1")], now=T0) == [2]
        finally:
            other.execute("ROLLBACK")
            other.close()
        await until(lambda: _rows(path) != [])
        assert _rows(path) == [("hour", "t:1", T0, 2)]
    assert caplog.text.count("retrying") == 1  # once per outage, not once per attempt
    assert "works again" in caplog.text


async def test_embedded_reset_comes_after_a_flush_already_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "counters.db"
    async with EmbeddedCounters(path, flush_interval=3600, busy_timeout=10) as c:
        await c.add([(HOUR, "t:1", 5), (HOUR, "t:2", 1)], now=T0)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            flushing = asyncio.create_task(c.flush())  # waits for the lock on the writer thread
            await asyncio.sleep(0.05)
            assert not flushing.done()
            assert await c.get([(HOUR, "t:1"), (HOUR, "t:2")], now=T0) == [5, 1]
            resetting = asyncio.create_task(c.reset(HOUR, "t:1"))
            await asyncio.sleep(0)
        finally:
            other.execute("ROLLBACK")
            other.close()
        await flushing
        await resetting
        assert await c.get([(HOUR, "t:1"), (HOUR, "t:2")], now=T0) == [0, 1]
    assert _rows(path) == [("hour", "t:2", T0, 1)]


async def test_embedded_purge_deletes_buckets_that_left_their_window(tmp_path: Path) -> None:
    path = tmp_path / "counters.db"
    async with EmbeddedCounters(path, flush_interval=3600) as c:
        await c.add([(HOUR, "t:1", 1), (DAY, "t:1", 1)], now=T0)
        await c.add([(HOUR, "t:1", 2), (DAY, "t:1", 2)], now=T0 + 1800)
        await c.flush()
        assert await c.purge(now=T0 + 3599) == 0
        assert await c.purge(now=T0 + 3600) == 1
        assert _rows(path) == [
            ("day", "t:1", T0, 1),
            ("day", "t:1", T0 + 1800, 2),
            ("hour", "t:1", T0 + 1800, 2),
        ]
        assert await c.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 3600) == [2, 3]
        assert await c.purge(now=T0 + 86400 + 1800) == 3
        assert _rows(path) == []


# Redis: nodes share counters at once --------------------------------------------------------------


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_redis_nodes_see_each_others_adds_at_once(backend: Backend) -> None:
    async with backend.open() as node1, backend.open() as node2:
        await node1.add([(HOUR, "t:1", 2)], now=T0)
        assert await node2.get([(HOUR, "t:1")], now=T0) == [2]
        await node2.add([(HOUR, "t:1", 3), (DAY, "t:1", 1)], now=T0 + 1)
        assert await node1.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 1) == [5, 1]

        async def charge(node: Counters) -> None:
            for j in range(50):
                await node.add([(HOUR, "t:1", 1)], now=T0 + j)

        await asyncio.gather(*(charge(n) for n in (node1, node2) for _ in range(5)))
        assert await node1.get([(HOUR, "t:1")], now=T0 + 60) == [5 + 2 * 5 * 50]
        await node2.reset(HOUR, "t:1")
        assert await node1.get([(HOUR, "t:1"), (DAY, "t:1")], now=T0 + 60) == [0, 1]


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_redis_hash_keeps_only_live_buckets_and_expires(backend: Backend) -> None:
    async with backend.open() as c:
        assert isinstance(c, RedisCounters)
        await c.add([(HOUR, "t:1", 1)], now=T0)
        await c.add([(HOUR, "t:1", 2)], now=T0 + 1800)
        admin = aioredis.Redis.from_url(REDIS_URL)
        try:
            key = c.key(HOUR, "t:1")
            assert await admin.hgetall(key) == {str(T0).encode(): b"1", str(T0 + 1800).encode(): b"2"}
            assert 0 < await admin.ttl(key) <= HOUR.seconds + HOUR.bucket
            assert await c.get([(HOUR, "t:1")], now=T0 + 3600) == [2]
            # The bucket that left the window was deleted by the read.
            assert await admin.hgetall(key) == {str(T0 + 1800).encode(): b"2"}
        finally:
            await admin.aclose()
