"""Appending to and reading the audit chain.

Writes join the caller's transaction (storage.db.transaction, opened by the service's use case):
an event is appended in the transaction of the change it records, so both or neither exist."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import peewee

from ..core.audit import GENESIS, event_hash
from .db import database, register_errors, require_transaction, rows
from .models import AuditCheckpoint, AuditEvent, AuditHead


def _locked_head() -> tuple[int, str]:
    """(seq, hash) of the chain head, locked until the caller's transaction ends."""

    def query() -> Any:
        q = AuditHead.select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
        if not isinstance(database.obj, peewee.SqliteDatabase):
            q = q.for_update()  # serialises appends across processes on PostgreSQL
        return q.tuples().first()

    head = query()
    if head is None:
        AuditHead.insert(id=1, seq=0, hash=GENESIS).on_conflict_ignore().execute()
        head = query()
    return int(head[0]), str(head[1])


def append(*, at: datetime, actor: str, action: str, outcome: str, licence: str | None = None, client: str | None = None, detail: str | None = None) -> None:
    """Append one event; call inside the transaction of the change it records, so both or neither exist."""
    require_transaction("audit.append")
    seq, prev_hash = _locked_head()
    event: dict[str, Any] = {
        "seq": seq + 1,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor[:100],
        "action": action,
        "licence": licence,
        "client": (client or None) and client[:64],
        "outcome": outcome,
        "detail": detail[:200] if detail else None,
    }
    digest = event_hash(event, prev_hash)
    AuditEvent.create(**event, prev_hash=prev_hash, hash=digest)
    AuditHead.update(seq=event["seq"], hash=digest).where(AuditHead.id == 1).execute()


def iter_events(batch: int = 1000) -> Iterator[dict[str, Any]]:
    with register_errors():
        last = 0
        while True:
            page = rows(AuditEvent.select().where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch))
            if not page:
                return
            yield from page
            last = page[-1]["seq"]


def events_for(licence: str) -> list[dict[str, Any]]:
    with register_errors():
        return rows(AuditEvent.select().where(AuditEvent.licence == licence).order_by(AuditEvent.seq))


def head() -> tuple[int, str]:
    with register_errors():
        row = AuditHead.get_or_none(AuditHead.id == 1)
        return (row.seq, row.hash) if row else (0, GENESIS)


def save_checkpoint(seq: int, hash_: str, at: str, signature: str) -> None:
    AuditCheckpoint.insert(seq=seq, hash=hash_, at=at, signature=signature).on_conflict_ignore().execute()


def last_checkpoint_seq() -> int:
    with register_errors():
        return int(AuditCheckpoint.select(peewee.fn.MAX(AuditCheckpoint.seq)).scalar() or 0)


def checkpoints() -> list[dict[str, Any]]:
    with register_errors():
        return rows(AuditCheckpoint.select().order_by(AuditCheckpoint.seq))
