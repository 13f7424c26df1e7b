"""Deleting rows whose only purpose has passed: throttling counts, ended sessions, spent claim codes."""

from __future__ import annotations

from datetime import datetime

from .db import require_transaction
from .models import AuthFailure, ClaimCode, HolderSession


def prune(*, failures_before: datetime, sessions_before: datetime, codes_before: datetime) -> dict[str, int]:
    """How many rows of each went; in the caller's transaction, so all or none go."""
    require_transaction("housekeeping.prune")
    return {
        "auth_failures": int(AuthFailure.delete().where(AuthFailure.at < failures_before).execute()),
        "holder_sessions": int(
            HolderSession.delete()
            .where((HolderSession.expires_at < sessions_before) | (HolderSession.revoked_at < sessions_before))
            .execute()
        ),
        "claim_codes": int(
            ClaimCode.delete().where((ClaimCode.expires_at < codes_before) | (ClaimCode.used_at < codes_before)).execute()
        ),
    }
