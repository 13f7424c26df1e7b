"""Share grants and their redemptions. Writes join the caller's transaction: the service records
the usage event and the audit event of each change in the same one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import peewee

from .db import register_errors, require_transaction, rows
from .models import Department, Licence, Redemption, ShareGrant


@dataclass(frozen=True)
class GrantRecord:
    """A grant, with its licence's kind and the recipient department's name."""

    grant_id: str
    code_hash: str
    licence: str
    kind: str
    holder: str
    recipient: str | None  # department code; None: any window
    recipient_name: str | None
    purpose: str
    scope: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    bound_to: str | None


@dataclass(frozen=True)
class RedemptionRecord:
    redemption_id: str
    grant: str  # grant id
    department: str
    at: datetime
    receipt: str  # signed document envelope (JSON)
    copy_sha256: str | None


def _record(values: dict[str, Any]) -> GrantRecord:
    """The record of a row of ``_with_names()`` read as a dict."""
    return GrantRecord(**values)


def _redemption(values: dict[str, Any]) -> RedemptionRecord:
    """The record of a redemption row read as a dict (its grant as the grant's id)."""
    return RedemptionRecord(**values)


def _with_names() -> Any:
    """Grants with their licence's kind and the recipient department's name, as dicts."""
    return (
        ShareGrant.select(ShareGrant, Licence.kind.alias("kind"), Department.name.alias("recipient_name"))
        .join(Licence, on=(Licence.identifier == ShareGrant.licence))
        .join_from(ShareGrant, Department, peewee.JOIN.LEFT_OUTER, on=(Department.code == ShareGrant.recipient))
        .dicts()
    )


def add_grant(
    *,
    grant_id: str,
    code_hash: str,
    licence: str,
    holder: str,
    recipient: str | None,
    purpose: str,
    scope: str,
    created_at: datetime,
    expires_at: datetime,
) -> None:
    ShareGrant.create(
        grant_id=grant_id,
        code_hash=code_hash,
        licence=licence,
        holder=holder,
        recipient=recipient,
        purpose=purpose,
        scope=scope,
        created_at=created_at,
        expires_at=expires_at,
        revoked_at=None,
        bound_to=None,
    )


def grant_by_hash(code_hash: str) -> GrantRecord | None:
    with register_errors():
        row = _with_names().where(ShareGrant.code_hash == code_hash).first()
        return _record(row) if row else None


def grant_by_id(grant_id: str) -> GrantRecord | None:
    with register_errors():
        row = _with_names().where(ShareGrant.grant_id == grant_id).first()
        return _record(row) if row else None


def grants_of(holder: str, licence: str | None = None) -> list[GrantRecord]:
    """Newest first."""
    with register_errors():
        query = _with_names().where(ShareGrant.holder == holder)
        if licence is not None:
            query = query.where(ShareGrant.licence == licence)
        return [_record(row) for row in query.order_by(ShareGrant.created_at.desc(), ShareGrant.grant_id)]


def revoke_grant(grant_id: str, holder: str, at: datetime) -> bool:
    """Revoke ``holder``'s grant if it is not revoked yet; False when there was nothing to revoke."""
    updated = (
        ShareGrant.update(revoked_at=at)
        .where((ShareGrant.grant_id == grant_id) & (ShareGrant.holder == holder) & ShareGrant.revoked_at.is_null())
        .execute()
    )
    return bool(updated)


def bind_grant(grant_id: str, department: str) -> str | None:
    """Bind an any-window grant to ``department`` unless another got there first; the department it
    is bound to afterwards. One conditional UPDATE, so two windows racing cannot both win."""
    require_transaction("shares.bind_grant")
    ShareGrant.update(bound_to=department).where((ShareGrant.grant_id == grant_id) & ShareGrant.bound_to.is_null()).execute()
    row = ShareGrant.select(ShareGrant.bound_to).where(ShareGrant.grant_id == grant_id).first()
    return row.bound_to if row else None


def add_redemption(
    *, redemption_id: str, grant: str, department: str, at: datetime, receipt: str, copy_sha256: str | None
) -> bool:
    """Store a redemption unless its grant was revoked meanwhile (then False, nothing written)."""
    require_transaction("shares.add_redemption")
    row = ShareGrant.select(ShareGrant.revoked_at).where(ShareGrant.grant_id == grant).first()
    if row is None or row.revoked_at is not None:
        return False
    Redemption.create(redemption_id=redemption_id, grant=grant, department=department, at=at, receipt=receipt, copy_sha256=copy_sha256)
    return True


def redemption(redemption_id: str) -> RedemptionRecord | None:
    with register_errors():
        found = rows(Redemption.select().where(Redemption.redemption_id == redemption_id))
        return _redemption(found[0]) if found else None
