"""Holder index and claim codes: which licences belong to whom, and the codes that prove it once.

Writes join the caller's transaction (storage.db.transaction, opened by the service's use case)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .db import insert_rows, register_errors, rows
from .licences import LicenceRecord, licence_record
from .models import ClaimCode, Licence, LicenceHolder


@dataclass(frozen=True, slots=True)
class ClaimCodeRecord:
    """A one-time code handed to a holder with the licence; only its hash is kept."""

    code_hash: str
    licence: str
    holder: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


def add_holders(identifier: str, holders: list[str]) -> None:
    """Index a new licence's holders (each once), in one statement; call in the transaction that inserts it."""
    insert_rows(LicenceHolder, ("licence", "holder"), [(identifier, holder) for holder in dict.fromkeys(holders)])


CLAIM_CODE_COLUMNS = ("code_hash", "licence", "holder", "created_at", "expires_at", "used_at")


def add_claim_codes(codes: list[ClaimCodeRecord]) -> None:
    """Store claim codes (their hashes), in one statement."""
    insert_rows(ClaimCode, CLAIM_CODE_COLUMNS, [[getattr(code, name) for name in CLAIM_CODE_COLUMNS] for code in codes])


def holders_of(identifier: str) -> list[str]:
    with register_errors():
        return [r.holder for r in LicenceHolder.select(LicenceHolder.holder).where(LicenceHolder.licence == identifier)]


def is_holder(identifier: str, holder: str) -> bool:
    with register_errors():
        return bool(LicenceHolder.select().where((LicenceHolder.licence == identifier) & (LicenceHolder.holder == holder)).exists())


def licences_of(holder: str) -> list[LicenceRecord]:
    """Every licence ``holder`` holds, every version, newest first."""
    with register_errors():
        query = (
            Licence.select()
            .join(LicenceHolder, on=(LicenceHolder.licence == Licence.identifier))
            .where(LicenceHolder.holder == holder)
            .order_by(Licence.issued_at.desc(), Licence.identifier.desc())
        )
        return [licence_record(r) for r in rows(query)]


def replace_claim_codes(identifier: str, holders: list[str], codes: list[ClaimCodeRecord]) -> None:
    """Void the unused codes of ``holders`` for the licence and store ``codes`` in their place."""
    ClaimCode.delete().where(
        (ClaimCode.licence == identifier) & ClaimCode.holder.in_(holders) & ClaimCode.used_at.is_null()
    ).execute()
    add_claim_codes(codes)


def use_claim_code(code_hash: str, holder: str, now: datetime) -> str | None:
    """Mark an unused, unexpired code of ``holder`` used; the licence it came with, or None.

    A single conditional UPDATE, so two concurrent sign-ins with one code cannot both succeed.
    """
    with register_errors():
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
