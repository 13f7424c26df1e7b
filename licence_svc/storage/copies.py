"""Annotated copies (加注件): the redemption that handed one out, with its grant."""

from __future__ import annotations

from .db import register_errors
from .models import Redemption, ShareGrant


def redemption_with_grant(redemption_id: str) -> Redemption | None:
    """The redemption, with ``row.grant`` (its grant's id, licence and revocation) joined in; None when unknown."""
    with register_errors():
        return (  # type: ignore[no-any-return]
            Redemption.select(Redemption.redemption_id, Redemption.copy_sha256, ShareGrant.grant_id, ShareGrant.licence, ShareGrant.revoked_at)
            .join(ShareGrant)
            .where(Redemption.redemption_id == redemption_id)
            .first()
        )
