"""The service-matter catalogue, and what the materials check reads and writes around it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import audit as trail
from .db import register_errors, write_transaction
from .models import Licence, Matter


def replace_catalogue(rows: list[dict[str, Any]], audit_event: dict[str, Any]) -> None:
    """Swap the whole catalogue in one transaction: a window never sees half of an old and half of a new one."""
    with register_errors(), write_transaction():
        Matter.delete().execute()
        for start in range(0, len(rows), 100):
            Matter.insert_many(rows[start : start + 100]).execute()
        trail.append(**audit_event)


def all_matters() -> list[Matter]:
    with register_errors():
        return list(Matter.select().order_by(Matter.code))


def find_matter(code: str) -> Matter | None:
    with register_errors():
        return Matter.get_or_none(Matter.code == code)


def licence_states(identifiers: list[str]) -> dict[str, tuple[str, str, datetime | None]]:
    """identifier → (kind, status, expires_at): only what deciding "currently valid" needs, no personal data."""
    if not identifiers:
        return {}
    with register_errors():
        rows = Licence.select(Licence.identifier, Licence.kind, Licence.status, Licence.expires_at).where(Licence.identifier.in_(identifiers))
        return {r.identifier: (r.kind, r.status, r.expires_at) for r in rows}
