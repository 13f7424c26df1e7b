"""API tokens. Writes join the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import register_errors, rows
from .models import ApiToken


@dataclass(frozen=True)
class TokenRecord:
    """A department API client's token; only its SHA-256 is kept."""

    token_id: str
    department: str  # department code
    token_hash: str
    kinds: tuple[str, ...]
    scopes: tuple[str, ...]  # issue, redeem, check
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


def _record(values: dict[str, Any]) -> TokenRecord:
    """The record of a token row read as a dict (its department as the code)."""
    return TokenRecord(
        **{
            **values,
            "kinds": tuple(k for k in values["kinds"].split(",") if k),
            "scopes": tuple(s for s in (values["scopes"] or "").split(",") if s),
        }
    )


def add_token(
    *,
    token_id: str,
    department: str,
    token_hash: str,
    kinds: list[str],
    scopes: list[str],
    label: str,
    created_at: datetime,
    expires_at: datetime | None,
) -> TokenRecord:
    ApiToken.create(
        token_id=token_id,
        department=department,
        token_hash=token_hash,
        kinds=",".join(kinds),
        scopes=",".join(scopes),
        label=label,
        created_at=created_at,
        expires_at=expires_at,
    )
    return TokenRecord(token_id, department, token_hash, tuple(kinds), tuple(scopes), label, created_at, expires_at, None)


def token_by_hash(token_hash: str) -> TokenRecord | None:
    with register_errors():
        found = rows(ApiToken.select().where(ApiToken.token_hash == token_hash))
        return _record(found[0]) if found else None


def tokens(department: str | None = None) -> list[TokenRecord]:
    with register_errors():
        query = ApiToken.select().order_by(ApiToken.created_at)
        if department:
            query = query.where(ApiToken.department == department)
        return [_record(values) for values in rows(query)]


def revoke_token(token_id: str, at: datetime) -> bool:
    return bool(ApiToken.update(revoked_at=at).where((ApiToken.token_id == token_id) & ApiToken.revoked_at.is_null()).execute())
