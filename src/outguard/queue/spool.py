"""The durable spool: one file per message, fsync'ed before the client hears 250.

File layout: one line of JSON (the envelope), then the message exactly as it will be relayed. A
`.state` file next to it holds the envelope's later delivery state (written atomically). A
message file that is shorter than its header says was never acknowledged (the crash came before
the fsync) and is discarded on recovery.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from outguard.queue.envelope import Envelope

log = logging.getLogger("outguard.spool")


class Spool:
    def __init__(self, directory: Path, *, fsync_directory: bool = False) -> None:
        self.dir = directory
        self.fsync_directory = fsync_directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._dirfd = os.open(self.dir, os.O_RDONLY)

    def close(self) -> None:
        os.close(self._dirfd)

    def _msg(self, queue_id: str) -> Path:
        return self.dir / f"{queue_id}.msg"

    def _state(self, queue_id: str) -> Path:
        return self.dir / f"{queue_id}.state"

    def write(self, env: Envelope, parts: list[bytes]) -> None:
        """Store a new message durably (blocking: call it from a thread)."""
        header = (
            json.dumps(
                {"size": sum(map(len, parts)), "envelope": env.to_json()}, separators=(",", ":")
            ).encode()
            + b"\n"
        )
        fd = os.open(self._msg(env.queue_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            _write_all(fd, [header, *parts])
            os.fsync(fd)
        finally:
            os.close(fd)
        if self.fsync_directory:  # see [smtp] fsync_directory: journaling file systems do not need it
            os.fsync(self._dirfd)

    def save_state(self, env: Envelope) -> None:
        """Persist the envelope's delivery state atomically (blocking)."""
        tmp = self.dir / f"{env.queue_id}.state.tmp"
        data = json.dumps(env.to_json(), separators=(",", ":")).encode()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._state(env.queue_id))
        if self.fsync_directory:
            os.fsync(self._dirfd)

    def remove(self, queue_id: str) -> None:
        for p in (self._state(queue_id), self._msg(queue_id)):
            try:
                p.unlink()
            except FileNotFoundError:
                pass

    def read(self, queue_id: str) -> tuple[Envelope, bytes]:
        """The envelope (latest state) and the message bytes."""
        with open(self._msg(queue_id), "rb") as f:
            header = json.loads(f.readline())
            data = f.read()
        if len(data) != header["size"]:
            raise ValueError(f"{queue_id}: truncated spool file ({len(data)} of {header['size']} bytes)")
        env_json = header["envelope"]
        try:
            env_json = json.loads(self._state(queue_id).read_bytes())
        except FileNotFoundError:
            pass
        return Envelope.from_json(env_json), data

    def queue_ids(self) -> Iterator[str]:
        for p in self.dir.glob("*.msg"):
            yield p.stem

    def recover(self) -> list[Envelope]:
        """Every message the spool holds (after a restart or crash), oldest first."""
        out = []
        for qid in self.queue_ids():
            try:
                env, _ = self.read(qid)
            except (ValueError, json.JSONDecodeError, OSError) as e:
                log.warning("discarding unacknowledged spool file %s: %s", qid, e)
                self.remove(qid)
                continue
            out.append(env)
        for tmp in self.dir.glob("*.tmp"):
            tmp.unlink(missing_ok=True)
        return sorted(out, key=lambda e: e.arrival)

    def depth(self) -> int:
        return sum(1 for _ in self.dir.glob("*.msg"))


def _write_all(fd: int, parts: list[bytes]) -> None:
    for part in parts:
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]
