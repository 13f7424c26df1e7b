"""Field-match checks: the check scopes (kinds a department may check without the holder's grant).
The record each check leaves is written by storage.usage."""

from __future__ import annotations

from datetime import datetime

from .db import register_errors, write_transaction
from .models import CheckScope, Department


def department_exists(code: str) -> bool:
    with register_errors():
        return Department.select().where(Department.code == code).exists()


def add_scope(department: str, kind: str, now: datetime) -> bool:
    """Add the row; False when it was already there (granting twice is no error)."""
    with register_errors(), write_transaction():
        if CheckScope.select().where((CheckScope.department == department) & (CheckScope.kind == kind)).exists():
            return False
        CheckScope.create(department=department, kind=kind, created_at=now)
        return True


def remove_scope(department: str, kind: str) -> bool:
    with register_errors(), write_transaction():
        return bool(CheckScope.delete().where((CheckScope.department == department) & (CheckScope.kind == kind)).execute())


def has_scope(department: str, kind: str) -> bool:
    with register_errors():
        return CheckScope.select().where((CheckScope.department == department) & (CheckScope.kind == kind)).exists()


def scopes(department: str | None = None) -> list[CheckScope]:
    with register_errors():
        query = CheckScope.select().order_by(CheckScope.department, CheckScope.kind)
        if department:
            query = query.where(CheckScope.department == department)
        return list(query)
