"""What every CLI module shares: settings and services from the global options, output, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property, wraps
from typing import Any, TypeVar

import typer

from outguard.config import ConfigError, Settings, load
from outguard.errors import OutguardError
from outguard.services import Actor, Services
from outguard.store import Database

F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = typer.Option(False, "--json", help="Print JSON on stdout and nothing else.")


class App:
    """Lazily built from the global options: settings, the migrated database, services."""

    def __init__(self, config_path: str | None) -> None:
        self.config_path = config_path

    @cached_property
    def settings(self) -> Settings:
        return load(self.config_path)

    @cached_property
    def db(self) -> Database:
        db = Database(self.settings.db_url)
        db.migrate()
        return db

    @cached_property
    def services(self) -> Services:
        return Services(self.db, self.settings, Actor.cli())


def app_of(ctx: typer.Context) -> App:
    root = ctx.find_root()
    if not isinstance(root.obj, App):
        root.obj = App(None)
    return root.obj


def fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@contextmanager
def errors() -> Iterator[None]:
    """Turn service and configuration errors into one line on stderr and exit status 1."""
    try:
        yield
    except (OutguardError, ConfigError) as e:
        fail(str(e))


def command(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, empty: str = "(none)") -> None:
    """A plain aligned table for people; `--json` is the form for scripts."""
    if not rows:
        typer.echo(empty)
        return

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, list):
            return ", ".join(map(str, v)) or "-"
        return str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    typer.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def show(obj: dict[str, Any], as_json: bool, *, skip: Sequence[str] = ()) -> None:
    if as_json:
        emit_json(obj)
        return
    for k, v in obj.items():
        if k in skip:
            continue
        if isinstance(v, dict):
            typer.echo(f"{k}:")
            for kk, vv in v.items():
                typer.echo(f"  {kk}: {'-' if vv is None else vv}")
        else:
            typer.echo(f"{k}: {'-' if v is None else v}")
