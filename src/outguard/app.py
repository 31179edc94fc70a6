"""The composition root: build every part from the settings and run them until SIGTERM.

`serve` runs `[smtp] processes` gateway processes sharing the SMTP port (SO_REUSEPORT). Each
process is a `Node`: SMTP listener, its own spool and delivery workers, a trace writer and a
configuration snapshot. The first process also serves the admin web. SIGTERM drains gracefully:
stop accepting, let open sessions finish, finish delivery attempts in flight, flush the trace.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import uvicorn

from outguard.abuse import AbuseActions
from outguard.config import Settings
from outguard.counters import open_counters
from outguard.dns import async_resolver
from outguard.engine import Engine
from outguard.metrics import TimedChain
from outguard.policy import Chain
from outguard.queue.delivery import DeliveryQueue
from outguard.queue.routing import Router
from outguard.queue.spool import Spool
from outguard.reputation import Reputation
from outguard.smtp.handler import GatewayHandler
from outguard.smtp.server import GatewaySMTP
from outguard.smtp.tls import certificate_files, server_context
from outguard.spam import open_classifier
from outguard.store import Database
from outguard.store.snapshot import Snapshot
from outguard.trace.writer import TraceWriter
from outguard.web import create_app

log = logging.getLogger("outguard")

DRAIN_SECONDS = 30.0


def open_database(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_url)
    db.migrate()
    return db


def hostname(settings: Settings) -> str:
    return settings.smtp.hostname or socket.getfqdn()


def prepare_spools(data_dir: Path, processes: int) -> None:
    """Fold the spools of processes that no longer exist into spool 0, so nothing is stranded."""
    root = data_dir / "spool"
    root.mkdir(parents=True, exist_ok=True)
    target = root / "0"
    target.mkdir(exist_ok=True)
    for d in root.iterdir():
        if d.is_dir() and d.name.isdigit() and int(d.name) >= processes:
            for f in d.iterdir():
                if f.suffix in (".msg", ".state"):
                    os.replace(f, target / f.name)


class Node:
    """One gateway process."""

    def __init__(self, settings: Settings, index: int = 0, *, web: bool = False) -> None:
        self.settings, self.index, self.web = settings, index, web
        self.hostname = hostname(settings)
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopped = asyncio.Event()

    async def start(self) -> None:
        s = self.settings
        self.loop = asyncio.get_running_loop()
        # fsync before 250 happens in threads: enough of them that concurrent sessions sync in parallel.
        asyncio.get_running_loop().set_default_executor(
            concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="outguard-io")
        )
        self.db = Database(s.db_url)
        self.snapshot = Snapshot(self.db)
        await asyncio.to_thread(self.snapshot.refresh)
        self.counters = open_counters(s)
        await self.counters.start()
        self.trace = TraceWriter(self.db, s.trace.flush_interval.total_seconds())
        await self.trace.start()
        self.spool = Spool(s.data_dir / "spool" / str(self.index), fsync_directory=s.smtp.fsync_directory)
        resolver = async_resolver(s.dns)
        router = Router(resolver, smarthost=s.smarthost_address, mx_port=s.delivery.mx_port)
        self.delivery = DeliveryQueue(s, self.spool, router, self.trace, self.hostname)
        self.classifier = open_classifier(s)
        if self.classifier is not None:
            await self.classifier.start()
        if s.abuse.spam_action == "high-risk" and not s.abuse.high_risk_smarthost and self.index == 0:
            log.warning("no [abuse] high_risk_smarthost: outbound spam is relayed through the normal route")
        self.actions = AbuseActions(self.db, s, self.hostname)
        self.actions.delivery, self.actions.trace = self.delivery, self.trace
        self.engine = Engine(
            s,
            self.snapshot,
            TimedChain(Chain(modes=s.policy.mode)),
            self.counters,
            self.spool,
            self.delivery,
            self.trace,
            self.hostname,
            reputation=Reputation(s.reputation, self.snapshot, resolver),
            classifier=self.classifier,
            actions=self.actions,
        )
        self.delivery.on_ndr = self.engine.trace_report
        await self.delivery.start()
        self._tasks.append(asyncio.create_task(self._refresh_snapshot(), name="snapshot-refresh"))
        await self._listen()
        if self.web:
            await self._start_web()

    async def _listen(self) -> None:
        s = self.settings
        host, port = s.smtp_address
        # Ask clients for certificates only while some tenant has a certificate connector (see tls.py).
        tls_plain = server_context(s, self.hostname, request_client_cert=False)
        tls_certs = server_context(s, self.hostname)
        handler = GatewayHandler(self.engine)
        GatewaySMTP.max_connections = s.smtp.max_connections

        loop = asyncio.get_running_loop()

        def protocol() -> GatewaySMTP:
            return GatewaySMTP(
                handler,
                hostname=self.hostname,
                ident="Outguard ESMTP",
                data_size_limit=s.smtp.max_message_size,
                tls_context=tls_certs if self.snapshot.cert_connectors else tls_plain,
                timeout=s.smtp.timeout.total_seconds(),
                auth_require_tls=s.smtp.auth_require_tls,
                loop=loop,
            )

        self.server = await loop.create_server(
            protocol, host=host, port=port, reuse_port=s.smtp.processes > 1, reuse_address=True
        )
        log.info("SMTP listening on %s:%d (process %d, pid %d)", host, port, self.index, os.getpid())

    async def _start_web(self) -> None:
        host, port = self.settings.http_address
        app = create_app(self.settings, self.db, node=self)
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self.http = uvicorn.Server(config)
        self.http.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._tasks.append(asyncio.create_task(self.http.serve(), name="http"))
        log.info("admin web listening on http://%s:%d", host, port)

    async def _refresh_snapshot(self) -> None:
        interval = self.settings.policy.snapshot_refresh.total_seconds()
        while True:
            await asyncio.sleep(interval)
            try:
                changed = await asyncio.to_thread(self.snapshot.refresh)
                if changed:
                    log.debug("configuration reloaded for %s", ", ".join(changed))
            except Exception:
                log.exception("configuration refresh failed; serving the previous snapshot")

    async def stop(self) -> None:
        """Graceful drain."""
        log.info("draining (process %d)", self.index)
        self.server.close()
        deadline = time.monotonic() + DRAIN_SECONDS
        while GatewaySMTP.active and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await self.delivery.stop(max(deadline - time.monotonic(), 1.0))
        await self.actions.close()
        if self.classifier is not None:
            await self.classifier.close()
        if self.web:
            self.http.should_exit = True
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.trace.close()
        await self.counters.close()
        self.spool.close()
        self.db.dispose()
        log.info("stopped (process %d)", self.index)

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await self.start()
        await stop.wait()
        await self.stop()


def run(main: Any) -> None:
    """Run the event loop: uvloop (libuv, in C) when installed — it roughly halves the cost of each
    SMTP command and connection — else asyncio's own."""
    # aiosmtpd itself sets the attribute it deprecates on every successful AUTH.
    warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
        return
    uvloop.run(main)


def _die_with_parent() -> None:
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _child(settings: Settings, index: int) -> None:
    _die_with_parent()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
    )
    run(Node(settings, index).run_until_signalled())


def serve(settings: Settings) -> None:
    """Run the gateway (all processes) until SIGTERM."""
    open_database(settings).dispose()
    n = settings.smtp.processes
    prepare_spools(settings.data_dir, n)
    certificate_files(settings, hostname(settings))  # made once, before the processes start
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_child, args=(settings, i), name=f"outguard-{i}") for i in range(1, n)]
    for c in children:
        c.start()
    try:
        run(Node(settings, 0, web=True).run_until_signalled())
    finally:
        for c in children:
            if c.is_alive():
                os.kill(c.pid, signal.SIGTERM)  # type: ignore[arg-type]
        for c in children:
            c.join(DRAIN_SECONDS + 10)
