"""Appending to and reading the audit chain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import peewee

from ..core.audit import GENESIS, event_hash
from .db import database, register_errors, write_transaction
from .models import AuditCheckpoint, AuditEvent, AuditHead


def _locked_head() -> AuditHead:
    def query() -> peewee.ModelSelect:
        q = AuditHead.select().where(AuditHead.id == 1)
        if not isinstance(database.obj, peewee.SqliteDatabase):
            q = q.for_update()  # serialises appends across processes on PostgreSQL
        return q

    head = query().first()
    if head is None:
        AuditHead.insert(id=1, seq=0, hash=GENESIS).on_conflict_ignore().execute()
        head = query().first()
    return head


def append(*, at: datetime, actor: str, action: str, outcome: str, licence: str | None = None, client: str | None = None, detail: str | None = None) -> AuditEvent:
    """Append one event; call inside the transaction of the change it records, so both or neither exist."""
    with register_errors(), write_transaction():
        head = _locked_head()
        event: dict[str, Any] = {
            "seq": head.seq + 1,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor[:100],
            "action": action,
            "licence": licence,
            "client": (client or None) and client[:64],
            "outcome": outcome,
            "detail": detail[:200] if detail else None,
        }
        digest = event_hash(event, head.hash)
        row = AuditEvent.create(**event, prev_hash=head.hash, hash=digest)
        AuditHead.update(seq=event["seq"], hash=digest).where(AuditHead.id == 1).execute()
        return row


def iter_events(batch: int = 1000) -> Iterator[dict[str, Any]]:
    with register_errors():
        last = 0
        while True:
            rows = list(AuditEvent.select().where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch).dicts())
            if not rows:
                return
            yield from rows
            last = rows[-1]["seq"]


def events_for(licence: str) -> list[dict[str, Any]]:
    with register_errors():
        return list(AuditEvent.select().where(AuditEvent.licence == licence).order_by(AuditEvent.seq).dicts())


def head() -> tuple[int, str]:
    with register_errors():
        row = AuditHead.get_or_none(AuditHead.id == 1)
        return (row.seq, row.hash) if row else (0, GENESIS)


def save_checkpoint(seq: int, hash_: str, at: str, signature: str) -> None:
    with register_errors(), write_transaction():
        AuditCheckpoint.insert(seq=seq, hash=hash_, at=at, signature=signature).on_conflict_ignore().execute()


def last_checkpoint_seq() -> int:
    with register_errors():
        return int(AuditCheckpoint.select(peewee.fn.MAX(AuditCheckpoint.seq)).scalar() or 0)


def checkpoints() -> list[dict[str, Any]]:
    with register_errors():
        return list(AuditCheckpoint.select().order_by(AuditCheckpoint.seq).dicts())
