"""Rows of HTTP-submitted bulk imports. Writes join the caller's transaction (storage.db.transaction)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from .db import register_errors
from .models import Batch


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """A bulk import submitted over HTTP and run in the background."""

    batch_id: str
    department: str
    kind: str
    status: str  # queued, running, done, failed
    total: int
    input_path: str
    errors_path: str
    created_at: datetime
    updated_at: datetime
    issued: int = 0
    skipped: int = 0
    rejected: int = 0
    message: str | None = None


def add_batch(batch: BatchRecord) -> None:
    Batch.create(**asdict(batch))


def update_batch(batch_id: str, **fields: Any) -> None:
    """Set ``fields`` (columns of BatchRecord) of one batch."""
    Batch.update(**fields).where(Batch.batch_id == batch_id).execute()


def find_batch(batch_id: str) -> BatchRecord | None:
    with register_errors():
        values = Batch.select().where(Batch.batch_id == batch_id).dicts().first()
        return BatchRecord(**values) if values is not None else None
