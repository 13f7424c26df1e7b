"""What one online check asks of the register: one read (the licence with the trust epoch) and
one write (its record), whatever the register holds; and a key withdrawn by another process is
seen by this process's very next check, with no cache window."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from licence_svc.services import audit
from licence_svc.services.issuing import issue
from licence_svc.services.platform import Platform
from licence_svc.services.setup import add_department, withdraw_key
from licence_svc.services.verifying import check_qr
from licence_svc.storage import db
from licence_svc.storage.departments import signing_key
from tests.helpers import credit_code, load_sample


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement this thread's connection runs inside the block."""
    seen: list[str] = []
    db.connect()
    if db.is_sqlite():
        conn: sqlite3.Connection = db.database.connection()
        conn.set_trace_callback(seen.append)
        try:
            yield seen
        finally:
            conn.set_trace_callback(None)
        return
    original = db.database.execute_sql

    def counted(sql: str, params: Any = None, *args: Any, **kwargs: Any) -> Any:
        seen.append(sql)
        return original(sql, params, *args, **kwargs)

    db.database.obj.execute_sql = counted
    try:
        yield seen
    finally:
        del db.database.obj.execute_sql


@pytest.fixture()
def web_process(platform: Any) -> Iterator[None]:
    """As in a web process: a sealer runs (asleep here), so a check's record need not wait for the disk."""
    sealer = audit.Sealer(platform, interval=3600).start()
    yield
    sealer.stop()


def test_an_online_check_is_one_read_and_one_write(platform: Any, issued_samples: dict[str, Any], web_process: None) -> None:
    qr = issued_samples["id_card"].qr_text
    check_qr(platform, qr)  # warm: the trust store is built once per trust epoch
    with statements() as seen:
        assert check_qr(platform, qr).verdict == "valid"
    reads = [s for s in seen if s.lstrip().upper().startswith(("SELECT", "EXECUTE LICENCE_LOOKUP"))]
    writes = [s for s in seen if "auditintake" in s or "EXECUTE audit_intake" in s]
    assert len(reads) == 1 and ("trustepoch" in seen[0] or "licence_lookup" in seen[0]), seen
    assert len(writes) == 1, seen
    assert not [s for s in seen if "audithead" in s.lower()]  # the chain head is the sealer's alone
    if db.is_sqlite():
        assert [s.split()[0].upper() for s in seen] == ["SELECT", "BEGIN", "INSERT", "INSERT", "COMMIT"], seen
    else:
        assert len(seen) == 2, seen  # two round trips: the read, and the record's one-statement transaction


def test_a_key_withdrawn_by_another_process_is_seen_by_the_next_check(platform: Any) -> None:
    code = credit_code()
    add_department(platform, code, "测试公安局（撤销密钥）", ["id_card"])
    issued = issue(platform, kind="id_card", data=load_sample("id_card"), department=code)
    assert check_qr(platform, issued.qr_text).verdict == "valid"  # this process now keeps a trust store with the key

    elsewhere = Platform.open()  # another process's platform: its own caches, the same register
    key = signing_key(code)
    assert key is not None
    withdraw_key(elsewhere, key.kid, reason="私钥泄露")

    report = check_qr(platform, issued.qr_text)
    assert report.verdict != "valid" and any("私钥泄露" in r or "withdrawn" in r for r in report.reasons), report.reasons

