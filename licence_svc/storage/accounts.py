"""Holder accounts and their server-side sessions.

A session row is keyed by the SHA-256 of the cookie's token, so a copy of the table does not let
anyone in. Failed sign-ins are counted in storage.auth_failures, as the department API's are.
"""

from __future__ import annotations

from datetime import datetime

from .db import register_errors, write_transaction
from .models import HolderAccount, HolderSession


def get_account(holder: str) -> HolderAccount | None:
    with register_errors():
        return HolderAccount.get_or_none(HolderAccount.holder == holder)


def ensure_account(holder: str, now: datetime) -> None:
    """Create the holder's account (without a password) unless it exists."""
    with register_errors(), write_transaction():
        if HolderAccount.get_or_none(HolderAccount.holder == holder) is None:
            HolderAccount.create(holder=holder, password_hash=None, created_at=now, updated_at=now)


def set_password_hash(holder: str, password_hash: str, now: datetime, *, keep_session: str) -> None:
    """Store a new password hash and end every other session of the holder in one transaction:
    whoever knew the old password (or held an old session) is out."""
    with register_errors(), write_transaction():
        updated = HolderAccount.update(password_hash=password_hash, updated_at=now).where(HolderAccount.holder == holder).execute()
        if not updated:
            HolderAccount.create(holder=holder, password_hash=password_hash, created_at=now, updated_at=now)
        HolderSession.update(revoked_at=now).where(
            (HolderSession.holder == holder) & HolderSession.revoked_at.is_null() & (HolderSession.token_hash != keep_session)
        ).execute()


def create_session(*, token_hash: str, holder: str, csrf: str, method: str, created_at: datetime, expires_at: datetime) -> None:
    with register_errors(), write_transaction():
        HolderSession.create(
            token_hash=token_hash, holder=holder, csrf=csrf, method=method, created_at=created_at, expires_at=expires_at
        )


def find_session(token_hash: str) -> HolderSession | None:
    with register_errors():
        return HolderSession.get_or_none(HolderSession.token_hash == token_hash)


def extend_session(token_hash: str, expires_at: datetime) -> None:
    with register_errors(), write_transaction():
        HolderSession.update(expires_at=expires_at).where(
            (HolderSession.token_hash == token_hash) & HolderSession.revoked_at.is_null()
        ).execute()


def revoke_session(token_hash: str, now: datetime) -> bool:
    with register_errors(), write_transaction():
        return bool(
            HolderSession.update(revoked_at=now)
            .where((HolderSession.token_hash == token_hash) & HolderSession.revoked_at.is_null())
            .execute()
        )
