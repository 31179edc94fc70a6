"""The database: engine set-up, Alembic migrations, and sessions that enforce tenant isolation.

Tenant isolation lives here and nowhere else: a session opened for a tenant adds
`tenant_id = <that tenant>` to every ORM query of tenant-owned rows (SQLAlchemy's
`with_loader_criteria`), and refuses to flush a row that belongs to another tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker, with_loader_criteria

from outguard.model import Tenant, TenantScoped

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` use psycopg 3; everything else is passed through."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cur.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes; WAL fsyncs at checkpoint
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


class Database:
    """One database: an engine, a session factory and the migration runner."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent)."""
        with self.engine.begin() as conn:
            cfg = AlembicConfig()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @contextmanager
    def session(self, tenant_id: int | None = None) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on error.

        With `tenant_id`, the session only ever sees and writes that tenant's rows.
        """
        s = self._factory()
        s.info["tenant_id"] = tenant_id
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def dispose(self) -> None:
        self.engine.dispose()


@event.listens_for(Session, "do_orm_execute")
def _restrict_to_tenant(state: ORMExecuteState) -> None:
    tid = state.session.info.get("tenant_id")
    if tid is None or state.is_column_load or state.is_relationship_load:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(TenantScoped, lambda cls: cls.tenant_id == tid, include_aliases=True),
            with_loader_criteria(Tenant, lambda cls: cls.id == tid, include_aliases=True),
        )


@event.listens_for(Session, "before_flush")
def _refuse_foreign_rows(session: Session, _ctx: Any, _instances: Any) -> None:
    tid = session.info.get("tenant_id")
    if tid is None:
        return
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        owner = obj.id if isinstance(obj, Tenant) else getattr(obj, "tenant_id", tid)
        if owner != tid:
            raise PermissionError(
                f"tenant-scoped session may not write {type(obj).__name__} of another tenant"
            )
