"""API tokens."""

from __future__ import annotations

from datetime import datetime

from .db import register_errors, write_transaction
from .models import ApiToken


def add_token(**fields: object) -> ApiToken:
    with register_errors(), write_transaction():
        return ApiToken.create(**fields)


def token_by_hash(token_hash: str) -> ApiToken | None:
    with register_errors():
        return ApiToken.get_or_none(ApiToken.token_hash == token_hash)


def tokens(department: str | None = None) -> list[ApiToken]:
    with register_errors():
        query = ApiToken.select().order_by(ApiToken.created_at)
        if department:
            query = query.where(ApiToken.department == department)
        return list(query)


def revoke_token(token_id: str, at: datetime) -> bool:
    with register_errors(), write_transaction():
        return bool(ApiToken.update(revoked_at=at).where((ApiToken.token_id == token_id) & ApiToken.revoked_at.is_null()).execute())
