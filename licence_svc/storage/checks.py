"""Field-match checks: the check scopes (kinds a department may check without the holder's grant).
The record each check leaves is written by storage.usage. Writes join the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .db import register_errors, require_transaction
from .models import CheckScope


@dataclass(frozen=True)
class CheckScopeRecord:
    department: str
    kind: str
    created_at: datetime


def _record(row: CheckScope) -> CheckScopeRecord:
    return CheckScopeRecord(department=row.department, kind=row.kind, created_at=row.created_at)


def add_scope(department: str, kind: str, now: datetime) -> bool:
    """Add the row; False when it was already there (granting twice is no error)."""
    require_transaction("checks.add_scope")
    if CheckScope.select().where((CheckScope.department == department) & (CheckScope.kind == kind)).exists():
        return False
    CheckScope.create(department=department, kind=kind, created_at=now)
    return True


def remove_scope(department: str, kind: str) -> bool:
    return bool(CheckScope.delete().where((CheckScope.department == department) & (CheckScope.kind == kind)).execute())


def has_scope(department: str, kind: str) -> bool:
    with register_errors():
        return bool(CheckScope.select().where((CheckScope.department == department) & (CheckScope.kind == kind)).exists())


def scopes(department: str | None = None) -> list[CheckScopeRecord]:
    with register_errors():
        query = CheckScope.select().order_by(CheckScope.department, CheckScope.kind)
        if department:
            query = query.where(CheckScope.department == department)
        return [_record(row) for row in query]
