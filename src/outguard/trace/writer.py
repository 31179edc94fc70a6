"""The trace writer: collects trace rows in memory and writes them in batches from a thread.

A slow or unavailable trace store must never slow acceptance: writes are buffered (bounded),
retried, and flushed every `[trace] flush_interval` and at shutdown. Dropped rows are counted
and logged, never silently lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from outguard.model import TraceEvent, TraceMessage, TraceRecipient
from outguard.store import Database
from outguard.util import utcnow

log = logging.getLogger("outguard.trace")

MAX_BUFFERED = 200_000
_RECIPIENT_UPDATE = (
    update(TraceRecipient)
    .where(TraceRecipient.queue_id == bindparam("q"), TraceRecipient.recipient == bindparam("r"))
    .values(
        status=bindparam("u_status"),
        code=bindparam("u_code"),
        detail=bindparam("u_detail"),
        remote_mta=bindparam("u_remote_mta"),
        attempts=bindparam("u_attempts"),
        updated=bindparam("u_updated"),
    )
)
# Every trace_message row carries every column, so a batch is one executemany.
_MESSAGE_DEFAULTS: dict[str, Any] = {
    "message_id": "",
    "tenant_id": None,
    "tenant_name": None,
    "sender": "",
    "subject": "",
    "size": 0,
    "client_ip": "",
    "helo": "",
    "via": "",
    "connector": None,
    "auth_user": None,
    "tls": None,
    "unregistered": False,
    "refused_stage": None,
    "code": None,
    "detail": None,
    "node": "",
}


class TraceWriter:
    def __init__(self, db: Database, flush_interval: float = 0.5) -> None:
        self.db = db
        self.flush_interval = flush_interval
        self._messages: list[dict[str, Any]] = []
        self._recipients: list[dict[str, Any]] = []
        self._events: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._flushing = asyncio.Lock()
        self.dropped = 0
        self.written = 0
        self._failures = 0
        self._recovered: list[dict[str, Any]] = []

    # Recording (cheap, synchronous; called on the mail path) -----------------------------------

    def _room(self) -> bool:
        size = len(self._messages) + len(self._recipients) + len(self._events) + len(self._updates)
        if size >= MAX_BUFFERED:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error("trace store is not keeping up: %d trace rows dropped so far", self.dropped)
            return False
        return True

    def message(
        self,
        *,
        queue_id: str,
        received: datetime,
        recipients: Sequence[tuple[str, str, str | None, str | None]],
        **fields: Any,
    ) -> None:
        """A new message and its recipients: (address, status, code, detail)."""
        if not self._room():
            return
        tenant_id = fields.get("tenant_id")
        self._messages.append(
            {
                **_MESSAGE_DEFAULTS,
                "queue_id": queue_id,
                "received": received,
                "rule_hits": [],
                "rule_misses": [],
                **fields,
            }
        )
        for address, status, code, detail in recipients:
            self._recipients.append(
                {
                    "queue_id": queue_id,
                    "tenant_id": tenant_id,
                    "recipient": address,
                    "status": status,
                    "code": code,
                    "detail": detail,
                    "remote_mta": None,
                    "attempts": 0,
                    "updated": received,
                }
            )

    def recovered(self, messages: list[dict[str, Any]]) -> None:
        """Messages found in the spool at start: trace those whose record was lost in a crash."""
        self._recovered.extend(messages)

    def event(
        self,
        queue_id: str,
        tenant_id: int | None,
        kind: str,
        recipient: str | None = None,
        at: datetime | None = None,
        **detail: Any,
    ) -> None:
        if self._room():
            self._events.append(
                {
                    "queue_id": queue_id,
                    "tenant_id": tenant_id,
                    "at": at or utcnow(),
                    "kind": kind,
                    "recipient": recipient,
                    "detail": detail,
                }
            )

    def recipient(
        self,
        queue_id: str,
        recipient: str,
        *,
        status: str,
        code: str | None,
        detail: str | None,
        remote_mta: str | None = None,
        attempts: int = 0,
    ) -> None:
        if self._room():
            self._updates.append(  # keys are the bind names of _RECIPIENT_UPDATE
                {
                    "q": queue_id,
                    "r": recipient,
                    "u_status": status,
                    "u_code": code,
                    "u_detail": detail,
                    "u_remote_mta": remote_mta,
                    "u_attempts": attempts,
                    "u_updated": utcnow(),
                }
            )

    # Writing -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="trace-writer")

    async def close(self) -> None:
        """Stop after the flush in progress (never cancel one: its thread would write anyway), then
        write what is left."""
        self._stop.set()
        if self._task:
            await self._task
        await self.flush()

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.flush_interval)
            try:
                await self.flush()
            except Exception:
                log.exception("writing the trace failed; will retry")

    async def flush(self) -> None:
        """Write everything recorded so far (one flush at a time, so batches land in order)."""
        async with self._flushing:
            await self._flush()

    async def _flush(self) -> None:
        if self._recovered:
            recovered, self._recovered = self._recovered, []
            await asyncio.to_thread(self._restore, recovered)
        if not (self._messages or self._recipients or self._events or self._updates):
            return
        batch = (self._messages, self._recipients, self._events, self._updates)
        self._messages, self._recipients, self._events, self._updates = [], [], [], []
        try:
            await asyncio.to_thread(self._write, *batch)
        except Exception:
            self._failures += 1
            if self._failures < 3:  # the store may be briefly unavailable: keep the batch, in order
                self._requeue(batch)
                raise
            # Still failing: write row by row so one bad row cannot block the trace forever.
            self._failures = 0
            await asyncio.to_thread(self._write_rows, *batch)
        self._failures = 0
        self.written += sum(map(len, batch))

    def _requeue(self, batch: tuple[list[dict[str, Any]], ...]) -> None:
        self._messages[:0], self._recipients[:0], self._events[:0], self._updates[:0] = batch

    def _write_rows(self, *batch: list[dict[str, Any]]) -> None:
        for i, rows in enumerate(batch):
            for row in rows:
                parts: list[list[dict[str, Any]]] = [[], [], [], []]
                parts[i] = [row]
                try:
                    self._write(*parts)
                except Exception:
                    self.dropped += 1
                    log.exception("dropping a trace row that cannot be written: %r", row)

    def _restore(self, recovered: list[dict[str, Any]]) -> None:
        """Insert the trace record of recovered messages that the crash kept from being written."""
        ids = [m["queue_id"] for m in recovered]
        with self.db.engine.connect() as conn:
            known = set(
                conn.execute(select(TraceMessage.queue_id).where(TraceMessage.queue_id.in_(ids))).scalars()
            )
        for m in recovered:
            if m["queue_id"] in known:
                continue
            rcpts = m.pop("recipients")
            self.message(recipients=rcpts, **m)
            self.event(
                m["queue_id"],
                m.get("tenant_id"),
                "recovered",
                None,
                detail="trace record rebuilt from the spool after an unclean stop",
            )

    def _write(
        self,
        messages: list[dict[str, Any]],
        recipients: list[dict[str, Any]],
        events: list[dict[str, Any]],
        updates: list[dict[str, Any]],
    ) -> None:
        with self.db.engine.begin() as conn:
            if messages:
                conn.execute(insert(TraceMessage), messages)
            if recipients:
                conn.execute(insert(TraceRecipient), recipients)
            if events:
                conn.execute(insert(TraceEvent), events)
            if updates:  # one executemany; rows keep their order (deferred, then delivered)
                conn.execute(_RECIPIENT_UPDATE, updates)
