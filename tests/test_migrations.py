"""Migrations: idempotent, and they describe exactly the models (on SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from outguard.model import Base
from outguard.store import Database


def test_migrations_match_models_and_rerun_cleanly(db: Database) -> None:
    db.migrate()  # already at head: a no-op
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_sqlite_uses_wal(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path}/x.db")
    db.migrate()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
