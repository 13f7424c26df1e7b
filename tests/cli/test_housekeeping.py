"""`cli.py housekeeping` deletes what can no longer matter and nothing that still can."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from licence_svc.storage.models import AuthFailure, ClaimCode, HolderSession


def test_housekeeping_keeps_live_rows_and_deletes_spent_ones(run_cli: Any, platform: Any) -> None:
    now = datetime.now(timezone.utc)
    old, recent = now - timedelta(days=40), now - timedelta(minutes=1)
    AuthFailure.create(client="hk-old", at=old)
    AuthFailure.create(client="hk-new", at=recent)
    for name, expires, revoked in (("hk-ended", old, None), ("hk-revoked", now + timedelta(hours=1), old), ("hk-live", now + timedelta(hours=1), None)):
        HolderSession.create(token_hash=name, holder="110101199003071233", csrf="x", method="password", created_at=old, expires_at=expires, revoked_at=revoked)
    for name, expires, used in (("hk-expired", old, None), ("hk-used", now + timedelta(days=90), old), ("hk-fresh", now + timedelta(days=90), None)):
        ClaimCode.create(code_hash=name, licence="x", holder="110101199003071233", created_at=old, expires_at=expires, used_at=used)

    proc = run_cli("housekeeping")
    assert proc.returncode == 0, proc.stderr

    assert [r.client for r in AuthFailure.select().where(AuthFailure.client.startswith("hk-"))] == ["hk-new"]
    assert [r.token_hash for r in HolderSession.select().where(HolderSession.token_hash.startswith("hk-"))] == ["hk-live"]
    assert [r.code_hash for r in ClaimCode.select().where(ClaimCode.code_hash.startswith("hk-"))] == ["hk-fresh"]
