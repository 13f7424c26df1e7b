"""Times come out of the register as they went in: UTC, with their offset, on every database.

PostgreSQL hands ``timestamp`` columns back naive, and converts what it is given through the
session's time zone; an API answer or a comparison with an aware time must not depend on either.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from licence_svc.core.checkdigits import credit_code_check_char
from licence_svc.storage import departments as store
from licence_svc.storage.db import database, transaction


def _code() -> str:
    """A credit code no other test uses (check character right)."""
    first17 = f"12110000{secrets.randbelow(10**9):09d}"
    return first17 + credit_code_check_char(first17)


def test_a_time_is_read_back_equal_and_aware_in_utc(platform: Any) -> None:
    written = datetime(2026, 3, 1, 23, 59, 58, 123456, tzinfo=timezone(timedelta(hours=8)))
    code = _code()
    try:
        with transaction():
            store.add_department(code=code, name="时间测试局", kinds=[], created_at=written)
        read = store.find_department(code)
        assert read is not None
        assert read.created_at == written  # the same instant ...
        assert read.created_at.utcoffset() == timedelta(0)  # ... given in UTC
        assert read.created_at.isoformat() == "2026-03-01T15:59:58.123456+00:00"
    finally:
        with transaction():
            database.execute_sql("DELETE FROM department WHERE code = %s" % database.param, (code,))
