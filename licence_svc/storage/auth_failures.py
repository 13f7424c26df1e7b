"""Failed attempts (wrong tokens, sign-ins, share codes), counted per key for throttling. Every
worker sees the same counts; housekeeping deletes the old rows. Writes join the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from .db import register_errors
from .models import AuthFailure


def add(key: str, at: datetime) -> None:
    AuthFailure.create(client=key[:64], at=at)


def count_since(key: str, since: datetime) -> int:
    with register_errors():
        return int(AuthFailure.select().where((AuthFailure.client == key[:64]) & (AuthFailure.at >= since)).count())


def clear(key: str) -> None:
    """Forget the failures counted under ``key`` (an account's, after it signed in)."""
    AuthFailure.delete().where(AuthFailure.client == key[:64]).execute()
