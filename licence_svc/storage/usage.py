"""The usage log: every read, download, share and check of a licence, as its holders see it.
Writes join the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import register_errors
from .models import Department, UsageEvent


@dataclass(frozen=True)
class UsageRecord:
    licence: str
    at: datetime
    action: str
    organisation: str | None
    organisation_name: str | None
    purpose: str | None
    grant: str | None
    authorised: bool
    outcome: str


def _record(row: UsageEvent) -> UsageRecord:
    return UsageRecord(
        licence=row.licence,
        at=row.at,
        action=row.action,
        organisation=row.organisation,
        organisation_name=row.organisation_name,
        purpose=row.purpose,
        grant=row.grant,
        authorised=bool(row.authorised),
        outcome=row.outcome,
    )


def add(uses: list[dict[str, Any]]) -> None:
    """Append usage events (fields of the table). A use without ``organisation_name`` gets its
    department's."""
    for fields in uses:
        code = fields.get("organisation")
        if code and not fields.get("organisation_name"):
            dept = Department.select(Department.name).where(Department.code == code).first()
            fields = {**fields, "organisation_name": dept.name if dept else None}
        UsageEvent.create(**fields)


def for_licences(identifiers: list[str], *, limit: int = 500) -> list[UsageRecord]:
    with register_errors():
        query = UsageEvent.select().where(UsageEvent.licence.in_(identifiers)).order_by(UsageEvent.at.desc(), UsageEvent.id.desc()).limit(limit)
        return [_record(row) for row in query]


def count_since(organisation: str, action: str, since: datetime) -> int:
    with register_errors():
        return int(
            UsageEvent.select()
            .where((UsageEvent.organisation == organisation) & (UsageEvent.action == action) & (UsageEvent.at >= since))
            .count()
        )
