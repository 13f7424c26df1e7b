"""Departments and their signing keys: records and queries.

Writes join the caller's transaction (storage.db.transaction, opened by the service's use case);
reads outside one turn database failures into domain errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import compiled, register_errors, require_transaction, rows
from .models import Department, SigningKey


@dataclass(frozen=True)
class DepartmentRecord:
    code: str  # unified social credit code
    name: str
    kinds: tuple[str, ...]  # licence kinds it may issue; none: a service window
    created_at: datetime
    status_list_length: int

    @property
    def kind_list(self) -> list[str]:
        return list(self.kinds)


@dataclass(frozen=True)
class SigningKeyRecord:
    """A department signing certificate; its private key is a file under keys/."""

    kid: str  # hex of the 8-byte key id
    department: str  # department code
    cert_pem: str
    active: bool
    created_at: datetime
    withdrawn_at: datetime | None
    withdrawn_reason: str | None
    retired_at: datetime | None


def _department(row: Department) -> DepartmentRecord:
    return DepartmentRecord(
        code=row.code,
        name=row.name,
        kinds=tuple(k for k in row.kinds.split(",") if k),
        created_at=row.created_at,
        status_list_length=row.status_list_length,
    )


def _key(values: dict[str, Any]) -> SigningKeyRecord:
    """The record of a signing-key row read as a dict (its department as the code)."""
    return SigningKeyRecord(**{**values, "active": bool(values["active"])})


# ---- departments -------------------------------------------------------------------------------


def find_department(code: str) -> DepartmentRecord | None:
    def sql() -> str:
        return str(Department.select().where(Department.code == code).sql()[0])

    with register_errors():
        row = next(iter(Department.raw(compiled("departments.find", sql), code)), None)
        return _department(row) if row else None


def department_name(code: str) -> str | None:
    with register_errors():
        row = Department.select(Department.name).where(Department.code == code).first()
        return str(row.name) if row else None


def department_exists(code: str) -> bool:
    with register_errors():
        return bool(Department.select().where(Department.code == code).exists())


def any_department(codes: list[str]) -> bool:
    """Whether any of ``codes`` is a department."""
    with register_errors():
        return bool(Department.select().where(Department.code.in_(codes)).exists())


def departments() -> list[DepartmentRecord]:
    """Every department, by code."""
    with register_errors():
        return [_department(row) for row in Department.select().order_by(Department.code)]


def departments_for_kind(kind: str) -> list[DepartmentRecord]:
    """The departments that may issue ``kind``, by code."""
    return [d for d in departments() if kind in d.kinds]


def add_department(*, code: str, name: str, kinds: list[str], created_at: datetime) -> DepartmentRecord:
    row = Department.create(code=code, name=name, kinds=",".join(kinds), created_at=created_at)
    return _department(row)


# ---- signing keys ------------------------------------------------------------------------------


def signing_keys() -> list[tuple[SigningKeyRecord, DepartmentRecord]]:
    """Every signing key with its department, oldest first."""
    with register_errors():
        by_code = {row.code: _department(row) for row in Department.select()}
        return [(_key(values), by_code[values["department"]]) for values in rows(SigningKey.select().order_by(SigningKey.created_at))]


def find_key(kid: str) -> SigningKeyRecord | None:
    with register_errors():
        found = rows(SigningKey.select().where(SigningKey.kid == kid))
        return _key(found[0]) if found else None


def active_keys(department: str) -> list[SigningKeyRecord]:
    """The department's keys marked active (withdrawn ones included: withdrawing clears active)."""
    with register_errors():
        return [_key(values) for values in rows(SigningKey.select().where((SigningKey.department == department) & SigningKey.active))]


def signing_key(department: str) -> SigningKeyRecord | None:
    """The key the department signs with now: the newest active one that is not withdrawn."""
    def sql() -> str:
        return str(
            SigningKey.select()
            .where((SigningKey.department == department) & SigningKey.active & SigningKey.withdrawn_at.is_null())
            .order_by(SigningKey.created_at.desc())
            .sql()[0]
        )

    with register_errors():
        found = rows(SigningKey.raw(compiled("departments.signing_key", sql), department))
        return _key(found[0]) if found else None


def deactivate_keys(department: str) -> list[str]:
    """Mark every key of the department inactive; the ids of those that were active."""
    require_transaction("departments.deactivate_keys")
    retiring = [r.kid for r in SigningKey.select(SigningKey.kid).where((SigningKey.department == department) & SigningKey.active)]
    SigningKey.update(active=False).where(SigningKey.department == department).execute()
    return retiring


def set_retired(kids: list[str], at: datetime) -> None:
    """Date the retirement of ``kids`` (those not dated yet)."""
    if kids:
        SigningKey.update(retired_at=at).where(SigningKey.kid.in_(kids) & SigningKey.retired_at.is_null()).execute()


def add_key(*, kid: str, department: str, cert_pem: str, created_at: datetime) -> SigningKeyRecord:
    SigningKey.create(kid=kid, department=department, cert_pem=cert_pem, active=True, created_at=created_at)
    return SigningKeyRecord(kid, department, cert_pem, True, created_at, None, None, None)


def withdraw_key(kid: str, *, at: datetime, reason: str) -> None:
    SigningKey.update(active=False, withdrawn_at=at, withdrawn_reason=reason).where(SigningKey.kid == kid).execute()
