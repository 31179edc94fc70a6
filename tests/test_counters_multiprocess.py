"""Embedded counters shared by real OS processes on one node: concurrent adds to one SQLite file
from two processes sum exactly, and each process sees the other's flushed adds."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from outguard.counters import Window
from outguard.counters.embedded import EmbeddedCounters

HOUR = Window("hour", seconds=3600, bucket=60)
T0 = (int(time.time()) // 86400 + 2) * 86400
ADDS = 3000

# One gateway worker process: waits for its sibling (a file barrier, so both really add at the
# same time), then adds and reads in a loop while its background task flushes every 2 ms.
WORKER = """
import asyncio, json, sys, time
from pathlib import Path
from outguard.counters import Window
from outguard.counters.embedded import EmbeddedCounters

HOUR = Window("hour", seconds=3600, bucket=60)

async def main(path, name, others, adds, t0):
    Path(f"{path}.ready-{name}").touch()
    deadline = time.monotonic() + 60
    while not all(Path(f"{path}.ready-{o}").exists() for o in others) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    saw_others = 0
    async with EmbeddedCounters(path, flush_interval=0.002) as c:
        for i in range(adds):
            await c.add([(HOUR, "t:1", 1), (HOUR, "r:1", i % 5 + 1), (HOUR, f"own:{name}", 1)], now=t0 + i % 60)
            if i % 10 == 0:
                total, own = await c.get([(HOUR, "t:1"), (HOUR, f"own:{name}")], now=t0 + 60)
                assert own == i + 1, (own, i + 1)  # its own adds, at once and exactly once
                saw_others = max(saw_others, total - own)
                await asyncio.sleep(0.0005)
    print(json.dumps({"saw_others": saw_others}))

asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3].split(","), int(sys.argv[4]), int(sys.argv[5])))
"""


@pytest.mark.slow
async def test_two_processes_adding_to_one_file_sum_exactly(tmp_path: Path) -> None:
    path = tmp_path / "counters.db"
    names = ["a", "b"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(path),
                name,
                ",".join(n for n in names if n != name),
                str(ADDS),
                str(T0),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    # At least one process read the other's adds while it was still adding: they overlapped.
    assert max(r["saw_others"] for r in results) > 0
    async with EmbeddedCounters(path) as c:
        got = await c.get([(HOUR, "t:1"), (HOUR, "r:1"), (HOUR, "own:a"), (HOUR, "own:b")], now=T0 + 60)
    assert got == [2 * ADDS, 2 * sum(i % 5 + 1 for i in range(ADDS)), ADDS, ADDS]
