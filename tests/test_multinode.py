"""Two gateway nodes on one PostgreSQL and one Redis enforce one tenant threshold together."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.conftest import REDIS_URL, service_unavailable
from tests.support.mail import Gateway, free_port, wait_for
from tests.test_abuse import GTUBE, message, send


@pytest.fixture
def redis_prefix() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as e:
        service_unavailable("Redis", e)
    return f"og-test-{uuid.uuid4().hex[:8]}:"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_nodes_share_one_tenant_threshold(make_gateway, next_hop, redis_prefix: str) -> None:
    shared = {"OUTGUARD_REDIS_URL": REDIS_URL, "OUTGUARD_REDIS_PREFIX": redis_prefix}
    a = make_gateway(**shared)
    a.cli("tenant", "add", "acme")
    a.cli("domain", "add", "acme", "acme.example", "--verified")
    a.cli("connector", "add", "acme", "office", "--ip", "127.0.0.1")
    a.cli("tenant", "set", "acme", "--limit", "spam_min_messages=4", "--limit", "spam_ratio=0.5")
    b = make_gateway(
        **shared,
        OUTGUARD_SMTP_LISTEN=f"127.0.0.1:{free_port()}",
        OUTGUARD_HTTP_LISTEN=f"127.0.0.1:{free_port()}",
    )
    assert a.env["OUTGUARD_DATABASE_URL"] == b.env["OUTGUARD_DATABASE_URL"]
    assert a.env["OUTGUARD_DATA_DIR"] != b.env["OUTGUARD_DATA_DIR"]
    a.start()
    b.start()
    nodes: list[Gateway] = [a, b]
    # Two spam messages through each node: neither node alone reaches 4, together they do.
    for i in range(4):
        assert (
            send(nodes[i % 2], "mallory@acme.example", ["x@example.org"], message(f"spam {i}", GTUBE))[0]
            == 250
        )
    status = lambda: json.loads(a.cli("tenant", "show", "acme", "--json").stdout)  # noqa: E731
    wait_for(lambda: status()["status"] == "blocked", what="the shared threshold to trip")
    assert status()["block"]["evidence"]["spam_bulk"] == 4
    refused = (550, "5.7.705 Access denied, tenant has exceeded threshold")
    for node in nodes:  # both nodes refuse the tenant (each picks the block up from the shared database)
        wait_for(
            lambda n=node: send(n, "alice@acme.example", ["bob@example.org"], message("x")) == refused,
            what="5.7.705 on every node",
        )
