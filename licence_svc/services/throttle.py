"""Throttling by counted failures: a key (a client address, an account, a department) that failed
``limit`` times within ``window`` is refused until the oldest failures age out. Each caller keeps
its own keys, limits, messages and audit events."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..storage import auth_failures as store
from ..storage.db import transaction


def throttled(key: str, *, window: timedelta, limit: int, now: datetime) -> bool:
    """Whether ``key`` has had ``limit`` or more failures in the ``window`` before ``now``."""
    return store.count_since(key, now - window) >= limit


def count_failure(key: str, now: datetime) -> None:
    """Count one failure; joins the caller's transaction (the refusal it belongs to)."""
    with transaction():
        store.add(key, now)


def clear(key: str) -> None:
    """Joins the caller's transaction (the sign-in that succeeded)."""
    with transaction():
        store.clear(key)
