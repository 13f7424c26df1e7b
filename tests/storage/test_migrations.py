"""Versioned schema migrations (storage.migrations): a register made by an older release is brought
up to date with its data intact, the version is recorded, a second run changes nothing, a failing
step leaves the version where it was, concurrent starts apply each step once, and the migrated
schema is exactly the one the models describe. On SQLite, or on PostgreSQL with DATABASE_URL (each
test in a scratch database of its own, so the session's register is untouched)."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import peewee
import pytest

from licence_svc.storage import db, migrations
from licence_svc.storage.migrations import STEPS, SchemaVersion, Step
from licence_svc.storage.models import ALL_MODELS, ApiToken, Department, Licence, SigningKey

DEPT = "11110000000019001J"


@pytest.fixture()
def scratch(tmp_path: Any) -> Iterator[str]:
    """An empty database of its own, bound to the models for the test; the session's binding is
    restored afterwards."""
    saved = db.database.obj
    url = os.environ.get("DATABASE_URL", "")
    admin = None
    if url.startswith("postgres"):
        import psycopg2

        name = f"upgrade_{uuid.uuid4().hex[:12]}"
        parts = urlsplit(url)
        admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
        admin.autocommit = True
        admin.cursor().execute(f"CREATE DATABASE {name}")
        url = urlunsplit(parts._replace(path=f"/{name}"))
    else:
        url = f"sqlite:///{tmp_path / 'register.db'}"
    db.open_database(url)
    try:
        yield url
    finally:
        db.close()
        if saved is not None:
            db.database.initialize(saved)
        if admin is not None:
            admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            admin.close()


def _insert(table: str, **values: Any) -> None:
    """A row written the way an older release's code would have: only the columns it knew."""
    marks = ", ".join([db.database.param] * len(values))
    db.database.execute_sql(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})", list(values.values()))


def _first_release_register() -> None:
    """A register as the first release left it: its tables, no version table, some rows; a key
    rotated out (before retirement times were kept) and its successor."""
    with db.transaction():
        STEPS[0].apply(migrations.SchemaMigrator.from_database(db.database.obj))
        _insert("department", code=DEPT, name="测试局", kinds="id_card", created_at="2026-01-01 00:00:00", status_list_length=131072)
        _insert("signingkey", kid="aa" * 8, department_id=DEPT, cert_pem="old", active=False, created_at="2026-01-01 00:00:00")
        _insert("signingkey", kid="bb" * 8, department_id=DEPT, cert_pem="new", active=True, created_at="2026-03-01 00:00:00")
        _insert(
            "licence",
            identifier="L-1",
            serial="S1",
            version=1,
            kind="id_card",
            issuer_id=DEPT,
            kid="aa" * 8,
            status="revoked",
            status_reason="内部原因",
            status_index=7,
            holder="110101199003071233",
            data_json='{"name": "张晓明"}',
            data_digest="d" * 64,
            qr_text="qr",
            pdf_key="k",
            pdf_sha256="p" * 64,
            issued_at="2026-02-01 00:00:00",
        )
        _insert("apitoken", token_id="abcd0123", department_id=DEPT, token_hash="h", kinds="id_card", label="", created_at="2026-01-01 00:00:00")


def _versions() -> list[tuple[int, str]]:
    return [(r.version, r.name) for r in SchemaVersion.select().order_by(SchemaVersion.version)]


def _columns(table: str) -> set[str]:
    return {c.name for c in db.database.get_columns(table)}


def _schema() -> dict[str, Any]:
    """Tables, columns, indexes and foreign keys, as the database reports them."""
    out: dict[str, Any] = {}
    for model in ALL_MODELS:
        t = model._meta.table_name
        out[t] = {
            "columns": sorted((c.name, c.data_type.lower(), c.null, c.primary_key) for c in db.database.get_columns(t)),
            "indexes": sorted((i.name, tuple(i.columns), i.unique) for i in db.database.get_indexes(t)),
            "foreign_keys": sorted((f.column, f.dest_table, f.dest_column) for f in db.database.get_foreign_keys(t)),
        }
    return out


def test_a_first_release_register_is_upgraded_with_its_data_intact(scratch: str) -> None:
    _first_release_register()
    assert not db.database.table_exists(migrations.VERSION_TABLE)
    assert "retired_at" not in _columns("signingkey") and "scopes" not in _columns("apitoken")

    migrations.create_schema()

    assert migrations.current_version() == STEPS[-1].version
    dept = Department.get_by_id(DEPT)
    assert (dept.name, dept.kind_list, dept.status_list_length) == ("测试局", ["id_card"], 131072)
    lic = Licence.get_by_id("L-1")
    assert (lic.status, lic.status_reason, lic.status_category, lic.data_json) == ("revoked", "内部原因", None, '{"name": "张晓明"}')
    assert ApiToken.get_by_id("abcd0123").scopes == "issue"
    # Rotated out before retirement times were kept: retired when the next key came.
    assert SigningKey.get_by_id("aa" * 8).retired_at == datetime(2026, 3, 1, tzinfo=timezone.utc)  # times come back in UTC
    assert SigningKey.get_by_id("bb" * 8).retired_at is None
    assert migrations.schema_exists()


def test_a_register_from_the_release_before_versioning_gains_what_it_lacks(scratch: str) -> None:
    """The previous create_schema made the tables from the models, without a version table."""
    db.database.create_tables(ALL_MODELS)
    db.database.execute_sql("ALTER TABLE apitoken DROP COLUMN scopes")
    _insert("department", code=DEPT, name="x", kinds="id_card", created_at="2026-01-01 00:00:00", status_list_length=131072)
    _insert("apitoken", token_id="abcd0123", department_id=DEPT, token_hash="h", kinds="id_card", label="", created_at="2026-01-01 00:00:00")

    migrations.create_schema()

    assert _versions() == [(s.version, s.name) for s in STEPS]
    assert ApiToken.get_by_id("abcd0123").scopes == "issue"


def test_the_version_is_recorded_and_a_second_run_changes_nothing(scratch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    migrations.create_schema()
    assert _versions() == [(s.version, s.name) for s in STEPS]
    assert [s.version for s in STEPS] == list(range(1, len(STEPS) + 1))
    assert migrations.is_current()

    def no_migrator(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a current register must not be migrated")

    monkeypatch.setattr(migrations.SchemaMigrator, "from_database", no_migrator)
    migrations.create_schema()
    assert _versions() == [(s.version, s.name) for s in STEPS]


def _broken(migrator: Any) -> None:
    migrations._add_column(migrator, "licence", "broken", peewee.CharField(null=True))
    raise RuntimeError("step failed half-way")


def test_a_failing_step_leaves_the_version_unchanged(scratch: str) -> None:
    migrations.create_schema()
    with pytest.raises(RuntimeError, match="half-way"):
        migrations.upgrade((*STEPS, Step(len(STEPS) + 1, "broken", _broken)))
    assert migrations.current_version() == STEPS[-1].version
    assert "broken" not in _columns("licence")  # its DDL rolled back with it


def test_the_steps_before_a_failing_one_stay_applied(scratch: str) -> None:
    _first_release_register()
    with pytest.raises(RuntimeError, match="half-way"):
        migrations.upgrade((*STEPS[:2], Step(3, "broken", _broken)))
    assert _versions() == [(1, "first release"), (2, "apitoken.scopes")]
    assert "broken" not in _columns("licence")
    migrations.create_schema()  # the real step 3 and the rest follow
    assert migrations.current_version() == STEPS[-1].version
    assert ApiToken.get_by_id("abcd0123").scopes == "issue"


def test_concurrent_starts_apply_each_step_once(scratch: str) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def start_up() -> None:
        try:
            start.wait()
            migrations.create_schema()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            db.close()

    threads = [threading.Thread(target=start_up) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert _versions() == [(s.version, s.name) for s in STEPS]


def test_the_migrated_schema_is_the_models_schema(scratch: str) -> None:
    """A column added to models.py without a step fails here."""
    migrations.create_schema()
    migrated = _schema()
    migrations.drop_schema()
    assert not db.database.table_exists(migrations.VERSION_TABLE)
    db.database.create_tables(ALL_MODELS)
    assert migrated == _schema()
