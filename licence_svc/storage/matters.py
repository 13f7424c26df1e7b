"""The service-matter catalogue, and what the materials check reads around it. Writes join the
caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import register_errors, require_transaction
from .models import Licence, Matter


@dataclass(frozen=True)
class MatterRecord:
    code: str
    name: str
    department: str | None  # the accepting department (受理部门), as the catalogue names it
    materials_json: str
    updated_at: datetime


def _record(row: Matter) -> MatterRecord:
    return MatterRecord(code=row.code, name=row.name, department=row.department, materials_json=row.materials_json, updated_at=row.updated_at)


def replace_catalogue(rows: list[dict[str, Any]]) -> None:
    """Swap the whole catalogue; in the caller's transaction, so a window never sees half of an
    old and half of a new one."""
    require_transaction("matters.replace_catalogue")
    Matter.delete().execute()
    for start in range(0, len(rows), 100):
        Matter.insert_many(rows[start : start + 100]).execute()


def all_matters() -> list[MatterRecord]:
    with register_errors():
        return [_record(row) for row in Matter.select().order_by(Matter.code)]


def find_matter(code: str) -> MatterRecord | None:
    with register_errors():
        row = Matter.get_or_none(Matter.code == code)
        return _record(row) if row else None


def licence_states(identifiers: list[str]) -> dict[str, tuple[str, str, datetime | None]]:
    """identifier → (kind, status, expires_at): only what deciding "currently valid" needs, no personal data."""
    if not identifiers:
        return {}
    with register_errors():
        rows = Licence.select(Licence.identifier, Licence.kind, Licence.status, Licence.expires_at).where(Licence.identifier.in_(identifiers))
        return {r.identifier: (r.kind, r.status, r.expires_at) for r in rows}
