"""Database connection: SQLite by default, PostgreSQL when DATABASE_URL says so."""

from __future__ import annotations

from pathlib import Path

import peewee
from playhouse.db_url import connect

database = peewee.DatabaseProxy()


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
    else:
        db = connect(url)
    database.initialize(db)
    return db


def create_schema() -> None:
    from .models import ALL_MODELS

    with database.atomic():
        database.create_tables(ALL_MODELS, safe=True)


def drop_schema() -> None:
    from .models import ALL_MODELS

    database.drop_tables(ALL_MODELS, safe=True, cascade=not isinstance(database.obj, peewee.SqliteDatabase))
