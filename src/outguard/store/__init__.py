"""Storage: the database (SQLite by default, PostgreSQL by URL), sessions scoped to a tenant, migrations."""

from outguard.store.db import Database, normalise_url

__all__ = ["Database", "normalise_url"]
