"""Deleting rows whose only purpose has passed: throttling counts, ended sessions, spent claim codes."""

from __future__ import annotations

from datetime import datetime

from .db import register_errors, write_transaction
from .models import AuthFailure, ClaimCode, HolderSession


def prune(*, failures_before: datetime, sessions_before: datetime, codes_before: datetime) -> dict[str, int]:
    """One transaction; returns how many rows of each went."""
    with register_errors(), write_transaction():
        return {
            "auth_failures": AuthFailure.delete().where(AuthFailure.at < failures_before).execute(),
            "holder_sessions": HolderSession.delete()
            .where((HolderSession.expires_at < sessions_before) | (HolderSession.revoked_at < sessions_before))
            .execute(),
            "claim_codes": ClaimCode.delete()
            .where((ClaimCode.expires_at < codes_before) | (ClaimCode.used_at < codes_before))
            .execute(),
        }
