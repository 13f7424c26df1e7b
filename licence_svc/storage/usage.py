"""The usage log: every read, download, share and check of a licence, as its holders see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .db import register_errors, write_transaction
from .models import Department, UsageEvent


def add(**fields: Any) -> None:
    """Append one event; joins the caller's transaction when there is one."""
    with register_errors(), write_transaction():
        code = fields.get("organisation")
        if code and not fields.get("organisation_name"):
            dept = Department.get_or_none(Department.code == code)
            fields["organisation_name"] = dept.name if dept else None
        UsageEvent.create(**fields)


def for_licences(identifiers: list[str], *, limit: int = 500) -> list[UsageEvent]:
    with register_errors():
        return list(
            UsageEvent.select()
            .where(UsageEvent.licence.in_(identifiers))
            .order_by(UsageEvent.at.desc(), UsageEvent.id.desc())
            .limit(limit)
        )


def count_since(organisation: str, action: str, since: datetime) -> int:
    with register_errors():
        return (
            UsageEvent.select()
            .where((UsageEvent.organisation == organisation) & (UsageEvent.action == action) & (UsageEvent.at >= since))
            .count()
        )
