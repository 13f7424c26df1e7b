"""Database connection: SQLite by default, PostgreSQL when DATABASE_URL says so."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import peewee
from playhouse.db_url import connect as connect_url

from ..errors import Conflict, Unavailable

database = peewee.DatabaseProxy()


@contextmanager
def register_errors() -> Iterator[None]:
    """Translate database failures: a unique clash is Conflict, a lost connection Unavailable."""
    try:
        yield
    except peewee.IntegrityError as exc:
        raise Conflict("identifier or position already taken") from exc
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        raise Unavailable("the register is unavailable") from exc


@contextmanager
def transaction() -> Iterator[None]:
    """The one way to open a transaction: a service's use case runs inside it, and every storage
    function it calls joins it (storage never opens its own). Nested, it joins the outer one.

    It will write: on SQLite it takes the write lock at BEGIN (IMMEDIATE), so two writers queue
    instead of one failing on a stale read snapshot. Database failures leave it as domain errors
    (Conflict, Unavailable), including those raised at COMMIT."""
    with register_errors():
        if database.in_transaction():
            yield
            return
        if isinstance(database.obj, peewee.SqliteDatabase):
            with database.atomic("IMMEDIATE"):
                yield
        else:
            with database.atomic():
                yield


def require_transaction(what: str) -> None:
    """For storage functions whose statements only hold together in the caller's transaction (a
    lock and the write it guards): outside one they would each commit alone, so refuse."""
    if not database.in_transaction():
        raise RuntimeError(f"{what} must run inside storage.db.transaction()")


def rows(query: Any) -> list[dict[str, Any]]:
    """A query's rows as plain values, foreign keys as their codes (peewee's stubs type
    ``.dicts()`` as model rows)."""
    return list(query.dicts())


def open_database(url: str) -> peewee.Database:
    """Bind the models to the database at ``url``, creating its folder for SQLite."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        db: peewee.Database = peewee.SqliteDatabase(
            str(path),
            pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 10000, "synchronous": "normal"},
        )
    elif url.startswith(("postgres://", "postgresql://")) and "options=" not in url:
        # The register stores UTC in ``timestamp`` columns: the session's time zone must be UTC
        # whatever the server's default (a server set to Asia/Shanghai would shift every time).
        db = connect_url(url, options="-c timezone=UTC")
    else:
        db = connect_url(url)
    database.initialize(db)
    return db


def connect() -> None:
    """Open this thread's connection for a request (reconnecting after a database restart)."""
    with register_errors():
        database.connect(reuse_if_open=True)


def close() -> None:
    if not database.is_closed():
        database.close()


def is_database_error(exc: BaseException) -> bool:
    """A database failure that escaped a storage function: the register is unavailable."""
    return isinstance(exc, (peewee.OperationalError, peewee.InterfaceError))
