"""Database connection: SQLite by default, PostgreSQL when DATABASE_URL says so."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import peewee
from playhouse.db_url import connect as connect_url

from ..errors import Conflict, Unavailable

database = peewee.DatabaseProxy()

# Per thread (each thread has its own connection): the commit hooks of the open transaction,
# and whether the connection failed and must be replaced before its next use.
_local = threading.local()


@contextmanager
def register_errors() -> Iterator[None]:
    """Translate database failures: a unique clash is Conflict, a lost connection Unavailable
    (and the connection is replaced at the end of the request: :func:`release`)."""
    try:
        yield
    except peewee.IntegrityError as exc:
        raise Conflict("identifier or position already taken") from exc
    except (peewee.OperationalError, peewee.InterfaceError) as exc:
        _local.broken = True
        raise Unavailable("the register is unavailable") from exc


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


@contextmanager
def transaction() -> Iterator[None]:
    """The one way to open a transaction: a service's use case runs inside it, and every storage
    function it calls joins it (storage never opens its own). Nested, it joins the outer one.

    It will write: on SQLite it takes the write lock at BEGIN (IMMEDIATE), so two writers queue
    instead of one failing on a stale read snapshot. Database failures leave it as domain errors
    (Conflict, Unavailable), including those raised at COMMIT.

    Its commit is on disk before this returns: SQLite syncs the WAL for it (synchronous=FULL;
    the connection's default, NORMAL, is for the public checks' records, storage.audit.append_lazily),
    PostgreSQL waits for its WAL flush."""
    with register_errors():
        if database.in_transaction():
            yield
            return
        hooks: list[Callable[[bool], None]] = []
        _local.hooks = hooks
        committed = False
        try:
            if is_sqlite():
                database.execute_sql("PRAGMA synchronous = FULL")
                try:
                    with database.atomic("IMMEDIATE"):
                        yield
                finally:
                    database.execute_sql("PRAGMA synchronous = NORMAL")
            else:
                with database.atomic():
                    yield
            committed = True
        finally:
            _local.hooks = None
            for hook in hooks:
                hook(committed)


def after_transaction(hook: Callable[[bool], None]) -> None:
    """Call ``hook(committed)`` when the open transaction ends: True once it committed, False
    when it rolled back or its COMMIT failed (the outcome is then unknown)."""
    hooks = getattr(_local, "hooks", None)
    if hooks is None or not database.in_transaction():
        raise RuntimeError("after_transaction needs an open storage.db.transaction()")
    hooks.append(hook)


def compiled(key: str, build: Callable[[], Any]) -> str:
    """SQL text built once per database driver and kept: hot paths (a public check) skip
    peewee's query building, which costs more than SQLite running the query. ``build`` returns
    the SQL text written for the database bound now (its :func:`placeholder`), or a peewee query
    whose parameters are the ones :func:`execute` is later given."""
    slot = (type(database.obj).__name__, key)
    sql = _COMPILED.get(slot)
    if sql is None:
        built = build()
        sql = _COMPILED[slot] = built if isinstance(built, str) else built.sql()[0]
    return sql


_COMPILED: dict[tuple[str, str], str] = {}


def execute(sql: str, params: Sequence[Any] = ()) -> Any:
    """Run SQL text (from :func:`compiled`, or written with :func:`placeholder`) and return the cursor."""
    return database.execute_sql(sql, params)


def insert_head(model: type[peewee.Model], names: tuple[str, ...]) -> str:
    """INSERT INTO "table" ("column", ...), columns as peewee names them (a foreign key ``issuer``
    is ``issuer_id``): the start of the prebuilt INSERTs below."""
    columns = ", ".join(f'"{model._meta.fields[n].column_name}"' for n in names)
    return f'INSERT INTO "{model._meta.table_name}" ({columns})'


@cache
def insert_sql(model: type[peewee.Model], names: tuple[str, ...], count: int, mark: str) -> str:
    """The INSERT of ``count`` rows of ``names``, with ``mark`` as the parameter mark."""
    values = ", ".join(["(" + ", ".join([mark] * len(names)) + ")"] * count)
    return f"{insert_head(model, names)} VALUES {values}"


def insert_rows(model: type[peewee.Model], names: tuple[str, ...], values: Sequence[Sequence[Any]]) -> None:
    """INSERT the rows ``values`` (in the order of ``names``) in one statement, each value stored
    as the model's field stores it (times in UTC). For the issue's inserts: peewee builds an
    INSERT slower than SQLite runs it (about 0.1 ms for a licence row), so the statement text is
    built once per table, columns and row count."""
    if not values:
        return
    fields = [model._meta.fields[n] for n in names]
    params = [field.db_value(value) for row in values for field, value in zip(fields, row, strict=True)]
    execute(insert_sql(model, names, len(values), placeholder()), params)


def execute_prepared(name: str, sql: str, params: Sequence[Any]) -> Any:
    """Run SQL text of a hot path (written with :func:`placeholder`) as a prepared statement on
    PostgreSQL: parsed and planned once per connection instead of on every call (a check's
    lookup: 230 -> 130 µs). SQLite's driver caches prepared statements by itself."""
    if is_sqlite():
        return database.execute_sql(sql, params)
    return database.execute_sql(prepared(name, sql, len(params)), params)


def prepared(name: str, sql: str, arity: int) -> str:
    """``EXECUTE name(%s, ...)`` for SQL text with ``arity`` %s marks, prepared on this thread's
    PostgreSQL connection the first time it is used there."""
    conn = database.connection()
    by_connection: weakref.WeakKeyDictionary[Any, set[str]] | None = getattr(_local, "prepared", None)
    if by_connection is None:  # per thread, per connection: a thread may switch databases and back
        by_connection = _local.prepared = weakref.WeakKeyDictionary()
    known = by_connection.setdefault(conn, set())
    if name not in known:
        numbered = sql
        for n in range(1, arity + 1):
            numbered = numbered.replace("%s", f"${n}", 1)
        database.execute_sql(f"PREPARE {name} AS {numbered}")
        known.add(name)
    return f"EXECUTE {name}({', '.join(['%s'] * arity)})" if arity else f"EXECUTE {name}"


def placeholder() -> str:
    """The parameter mark of this database's driver: ``?`` (sqlite3) or ``%s`` (psycopg2)."""
    return "?" if is_sqlite() else "%s"


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
    """Open this thread's connection for a request, or keep the one left open by the last
    (:func:`release`). A SQLite connection kept open would go on reading a file that was moved
    away or replaced (a restored backup, a failed disk): if the file at the path is no longer the
    one opened, reconnect, so the request sees what is there now, or fails."""
    with register_errors():
        if is_sqlite() and not database.is_closed() and _sqlite_file_identity() != getattr(_local, "sqlite_file", None):
            close()
        if database.is_closed():
            database.connect()
            if is_sqlite():
                _local.sqlite_file = _sqlite_file_identity()


_inherited: list[Any] = []  # connections a forked child inherited: never used, never closed


def _forget_inherited_connection() -> None:
    """In a forked child: the connection the parent had open is the parent's (one server session,
    one socket; SQLite forbids carrying one across a fork). Closing it would end the parent's
    session, so it is kept unused, and the child opens its own when it needs one."""
    db = database.obj
    state = getattr(db, "_state", None)
    if state is not None and state.conn is not None:
        _inherited.append(state.conn)
        state.reset()
    _local.__dict__.clear()


os.register_at_fork(after_in_child=_forget_inherited_connection)


def _sqlite_file_identity() -> tuple[int, int] | None:
    try:
        st = os.stat(database.obj.database)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def close() -> None:
    _local.broken = False
    if not database.is_closed():
        database.close()


def release() -> None:
    """End of a request: the connection stays open for the next one (connecting costs more than
    most requests: PostgreSQL's start-up, SQLite's pragmas and its WAL recreated each time the
    last connection closes), unless it failed, so that a restarted database is reconnected."""
    if getattr(_local, "broken", False):
        close()


def is_database_error(exc: BaseException) -> bool:
    """A database failure that escaped a storage function: the register is unavailable."""
    return isinstance(exc, (peewee.OperationalError, peewee.InterfaceError))
