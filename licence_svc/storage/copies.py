"""Annotated copies (加注件): the redemption that handed one out, with its grant."""

from __future__ import annotations

from dataclasses import dataclass

from .db import register_errors
from .models import Redemption, ShareGrant


@dataclass(frozen=True, slots=True)
class CopyRedemption:
    """The redemption that handed out an annotated copy, and the state of its grant."""

    redemption_id: str
    copy_sha256: str | None
    grant_id: str
    licence: str
    grant_revoked: bool


def redemption_with_grant(redemption_id: str) -> CopyRedemption | None:
    """The redemption joined with its grant; None when unknown."""
    with register_errors():
        values = (
            Redemption.select(Redemption.redemption_id, Redemption.copy_sha256, ShareGrant.grant_id, ShareGrant.licence, ShareGrant.revoked_at)
            .join(ShareGrant)
            .where(Redemption.redemption_id == redemption_id)
            .tuples()
            .first()
        )
        if values is None:
            return None
        redemption, copy_sha256, grant, licence, revoked_at = values
        return CopyRedemption(redemption, copy_sha256, grant, licence, revoked_at is not None)
