"""The usage log: every read, download, share and check of a licence, as its holders see it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import audit as audit_trail
from .db import register_errors, write_transaction
from .models import Department, UsageEvent


def add(uses: list[dict[str, Any]], audit_events: list[dict[str, Any]] | None = None) -> None:
    """Append usage events and the audit events that record them, together or not at all; joins the
    caller's transaction when there is one. A use without ``organisation_name`` gets its department's."""
    if not uses and not audit_events:
        return
    with register_errors(), write_transaction():
        for fields in uses:
            code = fields.get("organisation")
            if code and not fields.get("organisation_name"):
                dept = Department.get_or_none(Department.code == code)
                fields = {**fields, "organisation_name": dept.name if dept else None}
            UsageEvent.create(**fields)
        for event in audit_events or ():
            audit_trail.append(**event)


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
