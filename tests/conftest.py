"""Shared fixtures: a migrated database on SQLite *and* PostgreSQL, settings, services, real DNS.

Tests that need PostgreSQL, Redis or other real services run whenever those are reachable; with
OUTGUARD_REQUIRE_SERVICES=1 (CI) a missing service fails the test instead of skipping it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from outguard.config import Settings, load
from outguard.model import Base
from outguard.services import Actor, Services
from outguard.store import Database
from tests.support.dnsserver import LoopbackDNS

REQUIRE_SERVICES = os.environ.get("OUTGUARD_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("OUTGUARD_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("OUTGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REPO = Path(__file__).resolve().parents[1]


def service_unavailable(what: str, why: object) -> None:
    """Skip, or fail when the run requires every service (CI)."""
    message = f"{what} unavailable: {why}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (OUTGUARD_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message)


# Databases -----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "outguard.db"
    db = Database(f"sqlite:///{path}")
    db.migrate()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    """A database of our own on the PostgreSQL server, migrated once, dropped at the end."""
    import psycopg

    name = f"outguard_test_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as e:
        yield f"unavailable:{e}"
        return
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    db.migrate()
    db.dispose()
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate_pg(url: str) -> None:
    db = Database(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A freshly migrated, empty database URL — once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "outguard.db"
        shutil.copy(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("_pg_database")
    if url.startswith("unavailable:"):
        service_unavailable("PostgreSQL", url.split(":", 1)[1])
    _truncate_pg(url)
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


# DNS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _dns_session() -> Iterator[LoopbackDNS]:
    with LoopbackDNS() as server:
        yield server


@pytest.fixture
def dns_server(_dns_session: LoopbackDNS) -> LoopbackDNS:
    """A real DNS server on loopback, emptied for each test."""
    _dns_session.reset()
    return _dns_session


# Settings and services -----------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, db_url: str, dns_server: LoopbackDNS) -> dict[str, str]:
    """Environment for a CLI or gateway process pointed at the test database and DNS."""
    return {
        "OUTGUARD_DATA_DIR": str(tmp_path / "data"),
        "OUTGUARD_DATABASE_URL": db_url,
        "OUTGUARD_DNS__NAMESERVERS": '["127.0.0.1"]',
        "OUTGUARD_DNS__PORT": str(dns_server.port),
        "OUTGUARD_DNS__TIMEOUT": "2s",
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return load(environ=env)


@pytest.fixture
def svc(db: Database, settings: Settings) -> Services:
    """Services acting as an operator from the CLI."""
    return Services(db, settings, Actor.cli())


# Mail peers ----------------------------------------------------------------------------------


@pytest.fixture
def next_hop():
    from tests.support.mail import NextHop

    hop = NextHop().start()
    yield hop
    hop.stop()


@pytest.fixture
def gateway_env(env: dict[str, str], next_hop) -> dict[str, str]:
    """Environment for a gateway relaying to the test next hop, with fast refresh and trace flush."""
    from tests.support.mail import free_port

    return {
        **env,
        "OUTGUARD_SMTP_LISTEN": f"127.0.0.1:{free_port()}",
        "OUTGUARD_HTTP_LISTEN": f"127.0.0.1:{free_port()}",
        "OUTGUARD_SMARTHOST": f"127.0.0.1:{next_hop.port}",
        "OUTGUARD_SMTP__HOSTNAME": "gw.outguard.test",
        "OUTGUARD_POLICY__SNAPSHOT_REFRESH": "0.2s",
        "OUTGUARD_TRACE__FLUSH_INTERVAL": "0.1s",
        "OUTGUARD_DELIVERY__RETRY_SCHEDULE": '["1s"]',
    }


@pytest.fixture
def make_gateway(gateway_env: dict[str, str], tmp_path: Path):
    """Build a gateway: `gw = make_gateway(**extra_env)`; seed it with `gw.cli(...)`, then `gw.start()`."""
    from tests.support.mail import Gateway

    made: list[Gateway] = []

    def make(**extra: str) -> Gateway:
        workdir = tmp_path / f"gw{len(made)}"
        # Each gateway is a node with its own data directory (spool, TLS), sharing the database.
        gw = Gateway({**gateway_env, "OUTGUARD_DATA_DIR": str(workdir / "data"), **extra}, workdir)
        gw.workdir.mkdir(parents=True, exist_ok=True)
        made.append(gw)
        return gw

    yield make
    for gw in made:
        gw.stop()


@pytest.fixture
def acme_gateway(make_gateway):
    """A running gateway with tenant `acme`: verified acme.example, connector for 127.0.0.1 only."""
    gw = make_gateway()
    gw.cli("tenant", "add", "acme")
    gw.cli("domain", "add", "acme", "acme.example", "--verified")
    gw.cli("connector", "add", "acme", "office", "--ip", "127.0.0.1")
    return gw
