"""Prometheus metrics of the mail path, and the small functions the engine and delivery call.

Importable without FastAPI. Labels never name a tenant (cardinality, and one tenant's numbers are
not another's business): outcomes and catalogue codes only. `/metrics` exports this process's
registry; with `[smtp] processes > 1` the other gateway processes keep their own and are not
exported (see docs/portal-and-api.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "outguard_messages",
    "SMTP transactions by outcome (accepted, refused) and enhanced status code.",
    ["outcome", "code"],
    registry=REGISTRY,
)
DELIVERY_ATTEMPTS = Counter(
    "outguard_delivery_attempts",
    "Delivery attempts per recipient by result (delivered, deferred, failed).",
    ["result"],
    registry=REGISTRY,
)
DELIVERY_ATTEMPT_SECONDS = Histogram(
    "outguard_delivery_attempt_seconds",
    "Duration of one delivery attempt (routing, connection, SMTP transaction).",
    ["result"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    registry=REGISTRY,
)
DELIVERY_LATENCY_SECONDS = Histogram(
    "outguard_delivery_latency_seconds",
    "From acceptance (250) to the final result of a recipient (delivered or failed).",
    ["result"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400, 172800),
    registry=REGISTRY,
)
POLICY_SECONDS = Histogram(
    "outguard_policy_decision_seconds",
    "Time the policy chain takes to decide one SMTP stage (MAIL, RCPT, DATA, ...).",
    ["stage"],
    buckets=(0.00002, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05),
    registry=REGISTRY,
)


_children: dict[tuple[Any, ...], Any] = {}


def _child(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, remembered: the mail path calls these several times per message,
    and `labels()` takes a lock and builds its key each time."""
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def observe_message(outcome: str, code: str | None) -> None:
    """One SMTP transaction ended: `accepted` (code 2.0.0) or `refused` with its catalogue code."""
    _child(MESSAGES, outcome, code or "none").inc()


def observe_delivery(result: str, seconds: float, since_accepted: float | None = None) -> None:
    """One recipient's delivery attempt: `delivered`, `deferred` or `failed`, and how long it took."""
    result = "delivered" if result == "relayed" else result
    _child(DELIVERY_ATTEMPTS, result).inc()
    _child(DELIVERY_ATTEMPT_SECONDS, result).observe(max(seconds, 0.0))
    if since_accepted is not None and result in ("delivered", "failed"):
        _child(DELIVERY_LATENCY_SECONDS, result).observe(max(since_accepted, 0.0))


def observe_policy(seconds: float, stage: str = "all") -> None:
    _child(POLICY_SECONDS, stage).observe(seconds)


class TimedChain:
    """The policy chain with each `run` timed; everything else passes through untouched."""

    def __init__(self, chain: Any) -> None:
        self._chain = chain

    def run(self, stage: Any, ctx: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._chain.run(stage, ctx)
        finally:
            observe_policy(time.perf_counter() - started, getattr(stage, "value", str(stage)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)


class NodeCollector(Collector):
    """Gauges read from the running node at scrape time (queue depth, trace backlog)."""

    def __init__(self, node: Callable[[], Any]) -> None:
        self.node = node

    def collect(self) -> Iterable[Any]:
        node = self.node()
        delivery = getattr(node, "delivery", None)
        depth = GaugeMetricFamily(
            "outguard_queue_depth", "Messages in this process's delivery queue (ready, deferred, in flight)."
        )
        active = GaugeMetricFamily("outguard_delivery_active", "Delivery attempts in progress.")
        if delivery is not None:
            depth.add_metric([], float(delivery.depth))
            active.add_metric([], float(delivery.active))
        yield depth
        yield active
        trace = getattr(node, "trace", None)
        dropped = GaugeMetricFamily("outguard_trace_dropped", "Trace rows dropped because the store lagged.")
        if trace is not None:
            dropped.add_metric([], float(trace.dropped))
        yield dropped
