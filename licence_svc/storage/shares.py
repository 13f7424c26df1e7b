"""Share grants and their redemptions, each written with its usage event and audit event in one
transaction, so the holder's log and the audit trail never miss a grant or a use of one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import peewee

from . import usage as usage_log
from .db import register_errors, write_transaction
from .models import Department, Licence, Redemption, ShareGrant


def _with_names() -> peewee.ModelSelect:
    """Grants with their licence's kind and the recipient department's name, flattened onto the row."""
    return (
        ShareGrant.select(ShareGrant, Licence.kind.alias("kind"), Department.name.alias("recipient_name"))
        .join(Licence, on=(Licence.identifier == ShareGrant.licence))
        .join_from(ShareGrant, Department, peewee.JOIN.LEFT_OUTER, on=(Department.code == ShareGrant.recipient))
        .objects()
    )


def add_grant(fields: dict[str, Any], *, usage: dict[str, Any], audit: dict[str, Any]) -> None:
    with register_errors(), write_transaction():
        ShareGrant.create(**fields)
        usage_log.add([usage], [audit])


def grant_by_hash(code_hash: str) -> ShareGrant | None:
    with register_errors():
        return _with_names().where(ShareGrant.code_hash == code_hash).first()


def grant_by_id(grant_id: str) -> ShareGrant | None:
    with register_errors():
        return _with_names().where(ShareGrant.grant_id == grant_id).first()


def grants_of(holder: str, licence: str | None = None) -> list[ShareGrant]:
    """Newest first."""
    with register_errors():
        query = _with_names().where(ShareGrant.holder == holder)
        if licence is not None:
            query = query.where(ShareGrant.licence == licence)
        return list(query.order_by(ShareGrant.created_at.desc(), ShareGrant.grant_id))


def revoke_grant(grant_id: str, holder: str, at: datetime, *, usage: dict[str, Any], audit: dict[str, Any]) -> bool:
    """Revoke ``holder``'s grant if it is not revoked yet; False when there was nothing to revoke."""
    with register_errors(), write_transaction():
        updated = (
            ShareGrant.update(revoked_at=at)
            .where((ShareGrant.grant_id == grant_id) & (ShareGrant.holder == holder) & ShareGrant.revoked_at.is_null())
            .execute()
        )
        if updated:
            usage_log.add([usage], [audit])
        return bool(updated)


def bind_grant(grant_id: str, department: str) -> str | None:
    """Bind an any-window grant to ``department`` unless another got there first; the department it
    is bound to afterwards. One conditional UPDATE, so two windows racing cannot both win."""
    with register_errors(), write_transaction():
        ShareGrant.update(bound_to=department).where((ShareGrant.grant_id == grant_id) & ShareGrant.bound_to.is_null()).execute()
        row = ShareGrant.get_or_none(ShareGrant.grant_id == grant_id)
        return row.bound_to if row else None


def add_redemption(fields: dict[str, Any], *, usage: dict[str, Any], audit: dict[str, Any]) -> bool:
    """Store a redemption unless its grant was revoked meanwhile (then False, nothing written)."""
    with register_errors(), write_transaction():
        if ShareGrant.get_by_id(fields["grant"]).revoked_at is not None:
            return False
        Redemption.create(**fields)
        usage_log.add([usage], [audit])
        return True


def redemption(redemption_id: str) -> Redemption | None:
    with register_errors():
        return Redemption.get_or_none(Redemption.redemption_id == redemption_id)


def department_name(code: str) -> str | None:
    with register_errors():
        row = Department.get_or_none(Department.code == code)
        return row.name if row else None
