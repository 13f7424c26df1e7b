"""Holder accounts and their server-side sessions.

A session row is keyed by the SHA-256 of the cookie's token, so a copy of the table does not let
anyone in. Failed sign-ins are counted in storage.auth_failures, as the department API's are.
Writes join the caller's transaction (storage.db.transaction, opened by the service).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .db import register_errors, require_transaction
from .models import HolderAccount, HolderSession


@dataclass(frozen=True)
class AccountRecord:
    holder: str
    password_hash: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SessionRecord:
    token_hash: str
    holder: str
    csrf: str
    method: str  # claim_code, password, oidc
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


def _account(row: HolderAccount) -> AccountRecord:
    return AccountRecord(holder=row.holder, password_hash=row.password_hash, created_at=row.created_at, updated_at=row.updated_at)


def _session(row: HolderSession) -> SessionRecord:
    return SessionRecord(
        token_hash=row.token_hash,
        holder=row.holder,
        csrf=row.csrf,
        method=row.method,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def get_account(holder: str) -> AccountRecord | None:
    with register_errors():
        row = HolderAccount.get_or_none(HolderAccount.holder == holder)
        return _account(row) if row else None


def ensure_account(holder: str, now: datetime) -> None:
    """Create the holder's account (without a password) unless it exists."""
    if HolderAccount.get_or_none(HolderAccount.holder == holder) is None:
        HolderAccount.create(holder=holder, password_hash=None, created_at=now, updated_at=now)


def set_password_hash(holder: str, password_hash: str, now: datetime, *, keep_session: str) -> None:
    """Store a new password hash and end every other session of the holder: whoever knew the old
    password (or held an old session) is out."""
    require_transaction("accounts.set_password_hash")
    updated = HolderAccount.update(password_hash=password_hash, updated_at=now).where(HolderAccount.holder == holder).execute()
    if not updated:
        HolderAccount.create(holder=holder, password_hash=password_hash, created_at=now, updated_at=now)
    HolderSession.update(revoked_at=now).where(
        (HolderSession.holder == holder) & HolderSession.revoked_at.is_null() & (HolderSession.token_hash != keep_session)
    ).execute()


def create_session(*, token_hash: str, holder: str, csrf: str, method: str, created_at: datetime, expires_at: datetime) -> None:
    HolderSession.create(token_hash=token_hash, holder=holder, csrf=csrf, method=method, created_at=created_at, expires_at=expires_at)


def find_session(token_hash: str) -> SessionRecord | None:
    with register_errors():
        row = HolderSession.get_or_none(HolderSession.token_hash == token_hash)
        return _session(row) if row else None


def extend_session(token_hash: str, expires_at: datetime) -> None:
    HolderSession.update(expires_at=expires_at).where(
        (HolderSession.token_hash == token_hash) & HolderSession.revoked_at.is_null()
    ).execute()


def revoke_session(token_hash: str, now: datetime) -> bool:
    return bool(
        HolderSession.update(revoked_at=now)
        .where((HolderSession.token_hash == token_hash) & HolderSession.revoked_at.is_null())
        .execute()
    )
