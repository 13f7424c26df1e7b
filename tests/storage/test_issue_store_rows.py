"""The issue's rows written with prebuilt SQL: stored exactly as peewee would store them, one
statement per table, and the status position drawn without a transaction or a count."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from licence_svc.core.checkdigits import credit_code_check_char
from licence_svc.core.statuslist import MIN_ENTRIES
from licence_svc.errors import Conflict, SigningKeyRetired
from licence_svc.storage import departments as registry
from licence_svc.storage.db import database, transaction
from licence_svc.storage.holders import ClaimCodeRecord, add_claim_codes, add_holders
from licence_svc.storage.licences import (
    LicenceRecord,
    find_licence,
    free_status_index,
    hold_signing_key,
    idempotent_result,
    insert_licence,
    store_idempotency,
)
from licence_svc.storage.models import ClaimCode, Department, Licence, LicenceHolder

BEIJING = timezone(timedelta(hours=8))


def _code() -> str:
    """A credit code no other test uses (check character right)."""
    first17 = f"12110000{secrets.randbelow(10**9):09d}"
    return first17 + credit_code_check_char(first17)


@pytest.fixture()
def department(platform: Any) -> Iterator[str]:
    """A department of its own (nothing else sees its licences), removed with its rows afterwards."""
    code = _code()
    with transaction():
        registry.add_department(code=code, name="行测试局", kinds=["id_card"], created_at=datetime.now(timezone.utc))
    yield code
    with transaction():
        idents = [r.identifier for r in Licence.select(Licence.identifier).where(Licence.issuer == code)]
        ClaimCode.delete().where(ClaimCode.licence.in_(idents)).execute()
        LicenceHolder.delete().where(LicenceHolder.licence.in_(idents)).execute()
        Licence.delete().where(Licence.issuer == code).execute()
        Department.delete().where(Department.code == code).execute()


def _record(department: str, n: int, **overrides: Any) -> LicenceRecord:
    serial = f"ROWS{secrets.token_hex(6).upper()}"
    values: dict[str, Any] = {
        "identifier": f"1.2.156.3005.2.111.{department}.{serial}.{n:03d}.X",
        "serial": serial,
        "version": 1,
        "kind": "id_card",
        "issuer": department,
        "kid": "00" * 8,
        "status": "valid",
        "status_reason": None,
        "status_category": None,
        "status_index": n,
        "superseded_by": None,
        "holder": "11010519491231002X",
        "data_json": '{"name":"张三"}',
        "data_digest": "ab" * 32,
        "qr_text": "HTTP://X/V/1",
        "pdf_key": f"ab/cd/{serial}.pdf",
        "pdf_sha256": "cd" * 32,
        "issued_at": datetime(2026, 3, 1, 23, 59, 58, 123456, tzinfo=BEIJING),
        "expires_at": None,
    }
    values.update(overrides)
    return LicenceRecord(**values)


def _raw(identifier: str) -> tuple[Any, ...]:
    cursor = database.execute_sql(f"SELECT * FROM licence WHERE identifier = {database.param}", (identifier,))
    return tuple(cursor.fetchone())


@pytest.fixture()
def statements() -> Iterator[list[str]]:
    """The SQL statements run while the test body runs."""
    seen: list[str] = []
    hook = lambda event: seen.append(event.sql)  # noqa: E731
    database.obj.query_hooks.append(hook)
    yield seen
    database.obj.query_hooks.remove(hook)


def test_a_licence_row_is_stored_as_peewee_stores_it(department: str) -> None:
    ours = _record(department, 1, expires_at=datetime(2046, 3, 1, 15, 59, 59, tzinfo=timezone.utc))
    peewees = _record(department, 2, expires_at=ours.expires_at)
    with transaction():
        insert_licence(ours)
        Licence.create(**{f: getattr(peewees, f) for f in LicenceRecord.__dataclass_fields__})
    assert find_licence(ours.identifier) == ours  # the same instants, read back in UTC
    read = find_licence(ours.identifier)
    assert read is not None and read.issued_at.utcoffset() == timedelta(0)
    mine, theirs = _raw(ours.identifier), _raw(peewees.identifier)
    differ = {"identifier", "serial", "status_index", "pdf_key"}
    columns = [c.name for c in database.get_columns("licence")]
    assert [v for c, v in zip(columns, mine) if c not in differ] == [v for c, v in zip(columns, theirs) if c not in differ]


def test_a_taken_identifier_or_position_is_a_conflict(department: str) -> None:
    first = _record(department, 3)
    with transaction():
        insert_licence(first)
    with pytest.raises(Conflict):
        with transaction():
            insert_licence(replace(first, serial="OTHER" + first.serial[5:]))  # same identifier
    with pytest.raises(Conflict):
        with transaction():
            insert_licence(_record(department, 3))  # same position in the issuer's list


def test_holders_and_claim_codes_take_one_statement_each(department: str, statements: list[str]) -> None:
    record = _record(department, 4)
    now = datetime(2026, 3, 2, 8, 0, tzinfo=BEIJING)
    holders = ["11010519491231002X", "110105194912310037", "11010519491231002X"]
    codes = [ClaimCodeRecord(secrets.token_hex(32), record.identifier, h, now, now + timedelta(days=180)) for h in holders[:2]]
    with transaction():
        insert_licence(record)
        del statements[:]
        add_holders(record.identifier, holders)
        add_claim_codes(codes)
        store_idempotency(department=department, key="rows-key", request_hash="ef" * 32, licence=record.identifier, created_at=now)
    assert [s.split()[0:3] for s in statements[:3]] == [["INSERT", "INTO", '"licenceholder"'], ["INSERT", "INTO", '"claimcode"'], ["INSERT", "INTO", '"idempotencykey"']]
    stored = {r.holder for r in LicenceHolder.select().where(LicenceHolder.licence == record.identifier)}
    assert stored == set(holders)
    rows = {r.code_hash: r for r in ClaimCode.select().where(ClaimCode.licence == record.identifier)}
    assert set(rows) == {c.code_hash for c in codes}
    assert all(r.created_at == now and r.expires_at == now + timedelta(days=180) and r.used_at is None for r in rows.values())
    assert idempotent_result(department, "rows-key") == ("ef" * 32, record.identifier)
    assert idempotent_result(department, "other-key") is None
    with transaction():
        database.execute_sql(f"DELETE FROM idempotencykey WHERE department = {database.param}", (department,))


def test_a_retired_or_unknown_key_is_refused(platform: Any, departments: dict[str, str]) -> None:
    with pytest.raises(SigningKeyRetired):
        with transaction():
            hold_signing_key("ff" * 8)
    active = registry.signing_key(departments["id_card"])
    assert active is not None
    with transaction():
        hold_signing_key(active.kid)
    with pytest.raises(RuntimeError, match="inside storage.db.transaction"):
        hold_signing_key(active.kid)


def test_a_position_is_drawn_without_a_transaction(department: str) -> None:
    assert not database.in_transaction()
    assert 0 <= free_status_index(department) < MIN_ENTRIES


def test_a_taken_draw_grows_a_list_more_than_half_full(department: str) -> None:
    """A list of one entry, taken: the draw hits it, counts, grows the list and draws again."""
    with transaction():
        Department.update(status_list_length=1).where(Department.code == department).execute()
        insert_licence(_record(department, 0))
    index = free_status_index(department)
    assert 0 < index < MIN_ENTRIES
    assert Department.get_by_id(department).status_list_length == MIN_ENTRIES
