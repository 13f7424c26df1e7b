"""Holder index and claim codes: which licences belong to whom, and the codes that prove it once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .db import register_errors, write_transaction
from .models import ClaimCode, Licence, LicenceHolder


def add_holders(identifier: str, holders: list[str], claim_codes: list[dict[str, Any]]) -> None:
    """Index a new licence's holders and store their claim codes; call inside the issuing transaction."""
    for holder in dict.fromkeys(holders):
        LicenceHolder.create(licence=identifier, holder=holder)
    for row in claim_codes:
        ClaimCode.create(**row)


def holders_of(identifier: str) -> list[str]:
    with register_errors():
        return [r.holder for r in LicenceHolder.select(LicenceHolder.holder).where(LicenceHolder.licence == identifier)]


def is_holder(identifier: str, holder: str) -> bool:
    with register_errors():
        return LicenceHolder.select().where((LicenceHolder.licence == identifier) & (LicenceHolder.holder == holder)).exists()


def licences_of(holder: str) -> list[Licence]:
    """Every licence ``holder`` holds, every version, newest first."""
    with register_errors():
        return list(
            Licence.select()
            .join(LicenceHolder, on=(LicenceHolder.licence == Licence.identifier))
            .where(LicenceHolder.holder == holder)
            .order_by(Licence.issued_at.desc(), Licence.identifier.desc())
        )


def replace_claim_codes(identifier: str, holders: list[str], rows: list[dict[str, Any]]) -> None:
    with register_errors(), write_transaction():
        ClaimCode.delete().where(
            (ClaimCode.licence == identifier) & ClaimCode.holder.in_(holders) & ClaimCode.used_at.is_null()
        ).execute()
        for row in rows:
            ClaimCode.create(**row)


def use_claim_code(code_hash: str, holder: str, now: datetime) -> str | None:
    """Mark an unused, unexpired code of ``holder`` used; the licence it came with, or None.

    A single conditional UPDATE, so two concurrent sign-ins with one code cannot both succeed.
    """
    with register_errors(), write_transaction():
        updated = (
            ClaimCode.update(used_at=now)
            .where(
                (ClaimCode.code_hash == code_hash)
                & (ClaimCode.holder == holder)
                & ClaimCode.used_at.is_null()
                & (ClaimCode.expires_at > now)
            )
            .execute()
        )
        return str(ClaimCode.get_by_id(code_hash).licence) if updated else None
