"""Recording audit events in per-writer streams, sealing them into the chain, and reading both.

A writer (one thread of one process) appends to a stream of its own: no lock that another writer
waits for. Its events join the caller's transaction (storage.db.transaction, opened by the
service's use case), so an event and the change it records both exist or neither. The sealer
(services.audit.seal) moves a batch of events into the chain under the chain head's lock, and
deletes them from the intake, in one transaction: every event is in exactly one of the two."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import peewee

from ..core.audit import FIELDS, GENESIS, Fold, StreamPosition, event_hash, stream_event, stream_genesis
from .db import after_transaction, compiled, database, execute, insert_head, insert_sql, is_sqlite, placeholder, prepared, register_errors, require_transaction, rows
from .models import AuditCheckpoint, AuditEvent, AuditHead, AuditIntake, AuditStream

_COLUMNS = ("stream", "stream_seq", *[f for f in FIELDS if f != "seq"], "prev_hash", "hash")


class _Stream:
    """This thread's stream in one database: the head committed so far, and the one the open
    transaction will leave if it commits. A transaction whose outcome is unknown ends the stream:
    the next event starts a new one, so a stream never forks."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex
        self.pid = os.getpid()
        self.target = _target()
        self.head = StreamPosition(0, stream_genesis(self.id))
        self.pending: StreamPosition | None = None

    def settle(self, committed: bool) -> None:
        if committed and self.pending is not None:
            self.head, self.pending = self.pending, None
        else:
            _local.stream = None


_local = threading.local()


def _target() -> tuple[object, ...]:
    """Which database the writer writes to (the same one reopened is the same target)."""
    obj = database.obj
    params = getattr(obj, "connect_params", {})
    return type(obj).__name__, obj.database, params.get("host"), params.get("port")


def end_stream() -> None:
    """End this thread's stream: its next event starts a new one (after its rows were restored
    from a backup, say, so that what it remembers of its head may no longer be true)."""
    _local.stream = None


def _stream() -> _Stream:
    stream: _Stream | None = getattr(_local, "stream", None)
    if stream is None or stream.pid != os.getpid() or stream.target != _target():
        stream = _local.stream = _Stream()  # a forked child, or another database: a stream of its own
    return stream


def _row(stream: _Stream, at: datetime, actor: str, action: str, outcome: str, licence: str | None, client: str | None, detail: str | None) -> dict[str, Any]:
    """The next event of ``stream``, cut to the columns' sizes, linked and hashed."""
    last = stream.pending or stream.head
    row: dict[str, Any] = {
        "stream": stream.id,
        "stream_seq": last.seq + 1,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor[:100],
        "action": action,
        "licence": licence,
        "client": (client or None) and client[:64],
        "outcome": outcome,
        "detail": detail[:200] if detail else None,
        "prev_hash": last.hash,
    }
    row["hash"] = event_hash(stream_event(row), last.hash)
    return row


def _head_sql() -> str:
    p = placeholder()
    return (
        f'INSERT INTO "auditstream" ("id", "seq", "hash", "sealed_seq", "sealed_hash") VALUES ({p}, {p}, {p}, 0, {p}) '
        'ON CONFLICT ("id") DO UPDATE SET "seq" = excluded."seq", "hash" = excluded."hash"'
    )


def _statements() -> tuple[str, str]:
    """The record's two statements: the event, and its stream's head moved to it."""
    return insert_sql(AuditIntake, _COLUMNS, 1, placeholder()), compiled("audit.stream_head", _head_sql)


def _params(row: Mapping[str, Any]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    return tuple(row[c] for c in _COLUMNS), (row["stream"], row["stream_seq"], row["hash"], stream_genesis(row["stream"]))


def append(*, at: datetime, actor: str, action: str, outcome: str, licence: str | None = None, client: str | None = None, detail: str | None = None) -> None:
    """Record one event; call inside the transaction of the change it records, so both or neither exist."""
    require_transaction("audit.append")
    stream = _stream()
    row = _row(stream, at, actor, action, outcome, licence, client, detail)
    if stream.pending is None:
        after_transaction(stream.settle)
    insert, head = _statements()
    values, head_values = _params(row)
    execute(insert, values)
    execute(head, head_values)
    stream.pending = StreamPosition(row["stream_seq"], row["hash"])


def append_lazily(*, at: datetime, actor: str, action: str, outcome: str, licence: str | None = None, client: str | None = None, detail: str | None = None) -> None:
    """Record one event in a transaction of its own, committed before this returns but without
    waiting for the disk (SQLite: synchronous=NORMAL; PostgreSQL: synchronous_commit off): the
    public checks (docs/audit.md bounds what a power failure can lose). One round trip on
    PostgreSQL; inside a caller's transaction it joins it, and is as durable as it."""
    if database.in_transaction():
        append(at=at, actor=actor, action=action, outcome=outcome, licence=licence, client=client, detail=detail)
        return
    stream = _stream()
    row = _row(stream, at, actor, action, outcome, licence, client, detail)
    insert, head = _statements()
    values, head_values = _params(row)
    try:
        with register_errors():
            if is_sqlite():  # the driver's connection itself: four calls, no query building
                conn = database.connection()
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(insert, values)
                conn.execute(head, head_values)
                conn.execute("COMMIT")
            else:  # one round trip, of statements prepared on this connection
                insert_now, head_now = prepared("audit_intake", insert, len(values)), prepared("audit_stream_head", head, len(head_values))
                execute(f"BEGIN; SET LOCAL synchronous_commit TO OFF; {insert_now}; {head_now}; COMMIT", values + head_values)
    except BaseException:
        _local.stream = None  # committed or not: unknown, so this stream ends here
        try:
            database.execute_sql("ROLLBACK")
        except Exception:  # noqa: BLE001 - the connection is gone; it is replaced at the end of the request
            pass
        raise
    stream.head = StreamPosition(row["stream_seq"], row["hash"])


# ---- sealing -------------------------------------------------------------------------------------


def lock_head() -> StreamPosition:
    """The chain head, locked until the caller's transaction ends (only the sealer moves it)."""
    require_transaction("audit.lock_head")

    def query() -> Any:
        q = AuditHead.select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)
        if not is_sqlite():
            q = q.for_update()  # one sealer at a time across processes on PostgreSQL
        return q.tuples().first()

    head = query()
    if head is None:
        AuditHead.insert(id=1, seq=0, hash=GENESIS).on_conflict_ignore().execute()
        head = query()
    return StreamPosition(int(head[0]), str(head[1]))


def head_position() -> StreamPosition:
    """The chain head as last committed, unlocked (the sealer re-reads it locked before writing)."""
    seq, digest = head()
    return StreamPosition(seq, digest)


def intake_batch(limit: int) -> list[dict[str, Any]]:
    """The oldest unsealed events, in intake order."""
    with register_errors():
        return rows(AuditIntake.select().order_by(AuditIntake.id).limit(limit))


def sealed_positions(streams: Sequence[str]) -> dict[str, StreamPosition]:
    query = AuditStream.select(AuditStream.id, AuditStream.sealed_seq, AuditStream.sealed_hash).where(AuditStream.id.in_(list(streams)))
    with register_errors():
        return {r["id"]: StreamPosition(r["sealed_seq"], r["sealed_hash"]) for r in rows(query)}


_EVENT_COLUMNS = ("seq", *[f for f in FIELDS if f != "seq"], "prev_hash", "hash")


def save_fold(result: Fold) -> None:
    """Write a fold: chain events appended, intake rows deleted, streams' sealed positions and
    the chain head moved. In the caller's transaction, after :func:`lock_head`. Prebuilt SQL,
    each statement once for the whole batch: the sealer shares the processes that answer checks."""
    require_transaction("audit.save_fold")
    p = placeholder()
    cursor = database.cursor()
    events = [tuple(e[c] for c in _EVENT_COLUMNS) for e in result.events]
    if is_sqlite():
        cursor.executemany(insert_sql(AuditEvent, _EVENT_COLUMNS, 1, p), events)
        for start in range(0, len(result.sealed_ids), 500):
            ids = result.sealed_ids[start : start + 500]
            cursor.execute(f'DELETE FROM "auditintake" WHERE "id" IN ({", ".join([p] * len(ids))})', ids)
    else:
        from psycopg2.extras import execute_values  # type: ignore[import-untyped]

        execute_values(cursor, insert_head(AuditEvent, _EVENT_COLUMNS) + " VALUES %s", events, page_size=500)
        cursor.execute('DELETE FROM "auditintake" WHERE "id" = ANY(%s)', (result.sealed_ids,))
    positions = [(pos.seq, pos.hash, stream) for stream, pos in result.positions.items()]
    cursor.executemany(f'UPDATE "auditstream" SET "sealed_seq" = {p}, "sealed_hash" = {p} WHERE "id" = {p}', positions)
    cursor.execute(f'UPDATE "audithead" SET "seq" = {p}, "hash" = {p} WHERE "id" = 1', (result.head.seq, result.head.hash))


def try_sealer_lock() -> bool:
    """On PostgreSQL, whether this transaction may seal now (another sealer busy: skip the round
    rather than queue behind it). SQLite's transaction already holds the write lock."""
    if is_sqlite():
        return True
    return bool(database.execute_sql("SELECT pg_try_advisory_xact_lock(%s)", (_SEALER_LOCK,)).fetchone()[0])


_SEALER_LOCK = 0x6175646974  # b"audit" read as an integer


# ---- reading -------------------------------------------------------------------------------------


def iter_events(batch: int = 1000) -> Iterator[dict[str, Any]]:
    """The sealed chain in seq order."""
    with register_errors():
        last = 0
        while True:
            page = rows(AuditEvent.select().where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch))
            if not page:
                return
            yield from page
            last = page[-1]["seq"]


def streams() -> list[tuple[str, StreamPosition, StreamPosition]]:
    """Every stream with unsealed events or a head beyond its sealed position: (id, sealed, head)."""
    with register_errors():
        query = AuditStream.select().where(AuditStream.seq > AuditStream.sealed_seq)
        return [(r["id"], StreamPosition(r["sealed_seq"], r["sealed_hash"]), StreamPosition(r["seq"], r["hash"])) for r in rows(query)]


def stream_heads(ids: Sequence[str]) -> dict[str, StreamPosition]:
    with register_errors():
        query = AuditStream.select(AuditStream.id, AuditStream.seq, AuditStream.hash).where(AuditStream.id.in_(list(ids)))
        return {r["id"]: StreamPosition(r["seq"], r["hash"]) for r in rows(query)}


def intake_streams() -> list[str]:
    """The streams the intake holds events of (a stream row may be missing: that is a break)."""
    with register_errors():
        return [r["stream"] for r in rows(AuditIntake.select(AuditIntake.stream).distinct())]


def stream_events(stream: str, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """A stream's unsealed events in stream order."""
    with register_errors():
        last = 0
        while True:
            query = AuditIntake.select().where((AuditIntake.stream == stream) & (AuditIntake.stream_seq > last))
            page = rows(query.order_by(AuditIntake.stream_seq).limit(batch))
            if not page:
                return
            yield from page
            last = page[-1]["stream_seq"]


def pending_count() -> int:
    with register_errors():
        return int(AuditIntake.select(peewee.fn.COUNT(AuditIntake.id)).scalar() or 0)


def events_for(licence: str) -> list[dict[str, Any]]:
    """Every event about a licence, sealed or not, oldest first (unsealed ones without a chain seq)."""
    with register_errors():
        sealed = rows(AuditEvent.select().where(AuditEvent.licence == licence).order_by(AuditEvent.seq))
        pending = rows(AuditIntake.select().where(AuditIntake.licence == licence).order_by(AuditIntake.id))
    for event in pending:
        event["seq"] = None
    return sorted(sealed + pending, key=lambda e: e["at"])


def public_checks(licences: Sequence[str], *, limit: int) -> list[dict[str, Any]]:
    """The verifications recorded of these licences (at, licence, outcome, detail), sealed or
    not, newest first: what a holder sees of who checked their licence."""
    if not licences:
        return []
    with register_errors():
        out = []
        for model in (AuditEvent, AuditIntake):
            query = model.select(model.at, model.licence, model.outcome, model.detail).where(model.licence.in_(list(licences)) & (model.action == "verify"))
            out += rows(query.order_by(model.at.desc()).limit(limit))
    return sorted(out, key=lambda e: e["at"], reverse=True)[:limit]


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

