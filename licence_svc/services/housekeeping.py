"""Periodic clean-up (run from cron: `cli.py housekeeping`). The audit trail keeps the events;
these tables only need what can still matter: recent failures for throttling, live sessions,
claim codes that can still be used."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..storage import housekeeping as store
from ..storage.db import transaction
from .platform import utcnow

KEEP_FAILURES = timedelta(days=1)  # far beyond every throttling window (at most 15 minutes)
KEEP_SESSIONS = timedelta(days=1)
KEEP_SPENT_CODES = timedelta(days=30)


def prune(now: datetime | None = None) -> dict[str, int]:
    """Delete what has served its purpose, in one transaction; how many rows of each table went."""
    now = now or utcnow()
    with transaction():
        return store.prune(
            failures_before=now - KEEP_FAILURES,
            sessions_before=now - KEEP_SESSIONS,
            codes_before=now - KEEP_SPENT_CODES,
        )
