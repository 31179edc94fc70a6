"""The embedded counter store: a SQLite file in the data directory, shared by the gateway
processes of one node, with writes buffered in memory and flushed in the background.

It uses the stdlib `sqlite3` module, not SQLAlchemy: the table is one tiny, hot upsert/sum, and
the ORM's session and statement compilation would cost more per message than SQLite itself.

How it behaves:

- `add` only updates an in-memory buffer (microseconds, no I/O). A background task flushes the
  buffer every `flush_interval` (0.1 s) and on `close()`, in one upsert transaction, on a thread of
  its own so the event loop never waits for SQLite locks held by another process.
- `get` reads the file directly (an indexed sum, a few microseconds per key; WAL readers do not
  wait for writers) and adds this process's unflushed amounts, so a process always sees its own
  adds at once. Adds made by *other* processes become visible when they flush: normally within
  `flush_interval` plus one write; at most `flush_interval + busy_timeout` under lock contention.
- Each flush also records (writer id, flush sequence number) in the same transaction; a read
  checks that number in the same snapshot, so a batch that is being written is counted exactly
  once — from memory before its commit, from the file after it.
- `reset` deletes the stored buckets and this process's buffered amounts. Amounts other processes
  have buffered but not yet flushed (at most one flush interval's worth) survive the reset.
- A crash loses at most the last flush interval of this process's adds; a restart loses nothing.
- Every `purge_interval` (60 s), buckets that have left their window are deleted — for the windows
  this process has used (every process of a node declares the same windows).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from outguard.counters import Counters, CountersUnavailable, Window, bucket_start, cutoff, remember_window

log = logging.getLogger(__name__)
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    window TEXT NOT NULL,
    key TEXT NOT NULL,
    bucket_start INTEGER NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (window, key, bucket_start)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS writers (
    writer TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    updated REAL NOT NULL
) WITHOUT ROWID;
"""
_UPSERT = (
    "INSERT INTO buckets (window, key, bucket_start, n) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (window, key, bucket_start) DO UPDATE SET n = n + excluded.n"
)
_MARK_FLUSH = (
    "INSERT INTO writers (writer, seq, updated) VALUES (?, ?, ?) "
    "ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, updated = excluded.updated"
)
_SUM = "SELECT {i}, COALESCE(SUM(n), 0) FROM buckets WHERE window = ? AND key = ? AND bucket_start > ?"
_FLUSHED_SEQ = "SELECT -1, COALESCE((SELECT seq FROM writers WHERE writer = ?), 0)"
_CHUNK = 200  # items per read statement
# A writer row nobody has updated for this long belongs to a process that is gone.
_WRITER_TTL = 86400.0

# (window name, key) -> {bucket start: amount}
_Deltas = dict[tuple[str, str], dict[int, int]]


def _merge(into: _Deltas, deltas: _Deltas) -> None:
    for wk, buckets in deltas.items():
        target = into.setdefault(wk, {})
        for b, n in buckets.items():
            target[b] = target.get(b, 0) + n


class EmbeddedCounters(Counters):
    """Counters in a SQLite file; see the module docstring for the guarantees.

    One instance per process, used from the event loop that started it.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        flush_interval: float = 0.1,
        purge_interval: float = 60.0,
        busy_timeout: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.flush_interval = flush_interval
        self.purge_interval = purge_interval
        self.busy_timeout = busy_timeout
        self._writer_id = uuid.uuid4().hex
        self._windows: dict[str, Window] = {}
        self._pending: _Deltas = {}
        # Batches handed to the writer thread and not yet settled, by flush sequence number.
        self._inflight: dict[int, _Deltas] = {}
        self._seq = 0
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None  # used only on the writer thread
        # One thread owns the writing connection; writes run one at a time in sequence order, and
        # the loop's default executor (getaddrinfo, ...) can never hold them up, nor they it.
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._sql: dict[tuple[int, bool], str] = {}

    # Life cycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._executor is not None:
            raise RuntimeError("EmbeddedCounters.start() called twice")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="counters-writer")
        try:
            await self._on_writer(self._open_writer)
            self._reader = self._connect()
        except BaseException:
            await self._release()
            raise
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="counters-flush")

    async def close(self) -> None:
        if self._executor is None:
            return
        try:
            if self._task is not None:
                self._stop.set()
                await self._task
            await self.flush()
        finally:
            await self._release()

    async def _release(self) -> None:
        executor, self._executor, self._task = self._executor, None, None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if executor is not None:
            if self._writer is not None:
                await asyncio.get_running_loop().run_in_executor(executor, self._close_writer)
            executor.shutdown(wait=True)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; the writer says BEGIN/COMMIT itself.
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            conn.execute(
                "PRAGMA synchronous = NORMAL"
            )  # WAL + NORMAL: durable on checkpoint, no fsync per flush
        except sqlite3.Error as e:
            raise CountersUnavailable(f"counter store {self.path}: {e}") from e
        return conn

    def _open_writer(self) -> None:
        conn = self._connect()
        # The processes of a node open the file at the same moment; switching to WAL and creating
        # the schema can meet "database is locked" without SQLite's busy handler being asked, so
        # retry for as long as the busy timeout would have waited.
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")  # persistent in the file; readers never block
                conn.executescript(_SCHEMA)
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    conn.close()
                    raise CountersUnavailable(f"counter store {self.path}: {e}") from e
                time.sleep(0.02)
            except sqlite3.Error as e:
                conn.close()
                raise CountersUnavailable(f"counter store {self.path}: {e}") from e
        self._writer = conn

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    async def _on_writer(self, fn: Callable[..., _T], *args: object) -> _T:
        if self._executor is None:
            raise RuntimeError("EmbeddedCounters is not started")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_purge = loop.time() + self.purge_interval
        failing = False
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), self.flush_interval)
            except TimeoutError:
                pass
            try:
                await self.flush()
                if loop.time() >= next_purge:
                    next_purge = loop.time() + self.purge_interval
                    await self.purge()
            except Exception as e:
                # The batch went back to the buffer; the next tick retries it. Say so once per
                # outage, not ten times a second.
                if not failing:
                    log.warning("counters: writing %s failed, retrying: %s", self.path, e)
                failing = True
            else:
                if failing:
                    log.warning("counters: writing %s works again", self.path)
                failing = False

    # Counting -----------------------------------------------------------------------------------

    async def add(self, items: Sequence[tuple[Window, str, int]], now: float | None = None) -> None:
        if self._executor is None:
            raise RuntimeError("EmbeddedCounters is not started")
        if now is None:
            now = time.time()
        pending = self._pending
        for window, key, n in items:
            if n < 0:
                raise ValueError(f"counter amounts are >= 0, got {n} for {window.name}:{key}")
            if self._windows.get(window.name) is not window:
                remember_window(self._windows, window)
            if n:
                buckets = pending.setdefault((window.name, key), {})
                b = bucket_start(window, now)
                buckets[b] = buckets.get(b, 0) + n

    async def get(self, items: Sequence[tuple[Window, str]], now: float | None = None) -> list[int]:
        if self._reader is None:
            raise RuntimeError("EmbeddedCounters is not started")
        if now is None:
            now = time.time()
        totals: list[int] = []
        # SQLite allows 500 terms in one compound SELECT; the gateway asks for a handful.
        for start in range(0, len(items), _CHUNK):
            totals += self._get_chunk(items[start : start + _CHUNK], now)
        return totals

    def _get_chunk(self, items: Sequence[tuple[Window, str]], now: float) -> list[int]:
        assert self._reader is not None
        params: list[object] = []
        cutoffs = []
        for window, key in items:
            if self._windows.get(window.name) is not window:
                remember_window(self._windows, window)
            c = cutoff(window, now)
            cutoffs.append(c)
            params += (window.name, key, c)
        inflight = bool(self._inflight)
        if inflight:
            params.append(self._writer_id)
        sql = self._sql.get((len(items), inflight)) or self._sum_sql(len(items), inflight)
        try:
            rows = self._reader.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise CountersUnavailable(f"counter store {self.path}: {e}") from e
        totals = [0] * len(items)
        flushed_seq = 0
        for i, n in rows:
            if i < 0:
                flushed_seq = n
            else:
                totals[i] = n
        # Amounts of this process that the file does not hold yet: the buffer, and batches whose
        # commit this read's snapshot does not include.
        sources = [self._pending, *(d for seq, d in self._inflight.items() if seq > flushed_seq)]
        for deltas in sources:
            for i, (window, key) in enumerate(items):
                buckets = deltas.get((window.name, key))
                if buckets:
                    totals[i] += sum(n for b, n in buckets.items() if b > cutoffs[i])
        return totals

    def _sum_sql(self, count: int, with_seq: bool) -> str:
        # One statement, so every sum and the flush sequence number come from one snapshot.
        parts = [_SUM.format(i=i) for i in range(count)]
        if with_seq:
            parts.append(_FLUSHED_SEQ)
        sql = self._sql[(count, with_seq)] = " UNION ALL ".join(parts)
        return sql

    async def reset(self, window: Window, key: str) -> None:
        remember_window(self._windows, window)
        # Drop buffered amounts too, or a batch that fails and returns to the buffer would
        # bring pre-reset counts back.
        for deltas in (self._pending, *self._inflight.values()):
            deltas.pop((window.name, key), None)
        # Queued behind any batch already handed to the writer, so the delete comes after it.
        await self._on_writer(self._delete, window.name, key)

    def _delete(self, window: str, key: str) -> None:
        assert self._writer is not None
        try:
            self._writer.execute("DELETE FROM buckets WHERE window = ? AND key = ?", (window, key))
        except sqlite3.Error as e:
            raise CountersUnavailable(f"counter store {self.path}: {e}") from e

    # Flushing and purging -----------------------------------------------------------------------

    async def flush(self) -> None:
        """Write this process's buffered amounts to the file now (the background task does this)."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        self._seq += 1
        seq = self._seq
        self._inflight[seq] = batch
        rows = [(w, k, b, n) for (w, k), buckets in batch.items() for b, n in buckets.items()]
        loop = asyncio.get_running_loop()
        if self._executor is None:
            raise RuntimeError("EmbeddedCounters is not started")
        fut = loop.run_in_executor(self._executor, self._write, rows, seq)
        # Settle on completion even if the awaiting task is cancelled: the thread writes anyway.
        fut.add_done_callback(functools.partial(self._settle, seq))
        await asyncio.shield(fut)

    def _settle(self, seq: int, fut: asyncio.Future[None]) -> None:
        batch = self._inflight.pop(seq)
        if fut.cancelled() or fut.exception() is not None:
            # Not committed: back into the buffer for the next flush.
            _merge(self._pending, batch)

    def _write(self, rows: list[tuple[str, str, int, int]], seq: int) -> None:
        conn = self._writer
        assert conn is not None
        try:
            # IMMEDIATE takes the write lock up front, so the busy timeout applies to it.
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_UPSERT, rows)
            conn.execute(_MARK_FLUSH, (self._writer_id, seq, time.time()))
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise CountersUnavailable(f"counter store {self.path}: {e}") from e

    async def purge(self, now: float | None = None) -> int:
        """Delete buckets that have left their window; returns how many were deleted."""
        if now is None:
            now = time.time()
        cutoffs = [(w.name, cutoff(w, now)) for w in self._windows.values()]
        return await self._on_writer(self._purge, cutoffs, now - _WRITER_TTL)

    def _purge(self, cutoffs: list[tuple[str, int]], writers_before: float) -> int:
        conn = self._writer
        assert conn is not None
        try:
            deleted = 0
            for name, c in cutoffs:
                # Its own short transaction per window, so other processes' flushes interleave.
                deleted += conn.execute(
                    "DELETE FROM buckets WHERE window = ? AND bucket_start <= ?", (name, c)
                ).rowcount
            conn.execute(
                "DELETE FROM writers WHERE updated < ? AND writer != ?", (writers_before, self._writer_id)
            )
        except sqlite3.Error as e:
            raise CountersUnavailable(f"counter store {self.path}: {e}") from e
        return deleted
