"""Rows of HTTP-submitted bulk imports."""

from __future__ import annotations

from typing import Any

from .db import register_errors, write_transaction
from .models import Batch


def add_batch(**fields: Any) -> Batch:
    with register_errors(), write_transaction():
        return Batch.create(**fields)


def update_batch(batch_id: str, **fields: Any) -> None:
    with register_errors(), write_transaction():
        Batch.update(**fields).where(Batch.batch_id == batch_id).execute()


def find_batch(batch_id: str) -> Batch | None:
    with register_errors():
        return Batch.get_or_none(Batch.batch_id == batch_id)
