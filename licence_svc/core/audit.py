"""The audit trail as a hash chain: each event commits to the one before it, so an edit, a
deletion or a reordering anywhere breaks every link after it (全过程留痕).

Events reach the chain in two steps. A writer (a thread of a process) records each event in a
stream of its own, hash-chained the same way from a genesis bound to the stream's id, so writers
never wait for one another; the sealer then folds the streams' events into the one chain, in
batches, checking each stream's links as it goes. An event is covered by a link from the moment it
is recorded, sealed or not (docs/audit.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .payload import canonical_json

GENESIS = "0" * 64
FIELDS = ("seq", "at", "actor", "action", "licence", "client", "outcome", "detail")


def event_hash(event: Mapping[str, Any], prev_hash: str) -> str:
    """SHA-256 over the previous hash and the event's fields in canonical JSON."""
    body = {k: event.get(k) for k in FIELDS}
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(body)).hexdigest()


@dataclass(frozen=True)
class ChainBreak:
    seq: int | None
    reason: str
    stream: str | None = None  # set when the break is in a stream not yet sealed (seq is then the stream's)


def stream_genesis(stream: str) -> str:
    """What a stream's first event links to: bound to the stream's id, so an event cannot be
    moved from one stream to another."""
    return hashlib.sha256(b"licence-audit-stream\x00" + stream.encode("ascii")).hexdigest()


def stream_event(row: Mapping[str, Any]) -> dict[str, Any]:
    """An intake row as its stream hashed it: the stream's own sequence number as ``seq``."""
    return {**{k: row.get(k) for k in FIELDS}, "seq": row["stream_seq"]}


@dataclass(frozen=True)
class StreamPosition:
    """How far a stream has been sealed into the chain: its seq and hash there."""

    seq: int
    hash: str


def verify_stream(
    stream: str, events: Iterable[Mapping[str, Any]], sealed: StreamPosition, head: StreamPosition | None
) -> tuple[int, ChainBreak | None]:
    """Walk a stream's unsealed events (intake rows in stream_seq order) from where the sealer
    left it to the head the stream recorded last; return how many were checked and the first
    broken link. ``head`` None: the stream has no recorded head (its row was deleted)."""
    last, count = sealed, 0
    for row in events:
        broken = _link_break(stream, row, last)
        if broken is not None:
            return count, broken
        last, count = StreamPosition(row["stream_seq"], row["hash"]), count + 1
    if head is None:
        return count, ChainBreak(None, "events of a stream with no recorded head", stream)
    if head != last:
        return count, ChainBreak(head.seq, "stream head does not match its last event (events deleted, or the head rewritten)", stream)
    return count, None


def _link_break(stream: str, row: Mapping[str, Any], last: StreamPosition) -> ChainBreak | None:
    """Why ``row`` does not continue its stream after ``last``, if it does not."""
    seq = row["stream_seq"]
    if seq != last.seq + 1:
        return ChainBreak(seq, f"stream sequence jumps from {last.seq} to {seq}: events missing or reordered", stream)
    if row["prev_hash"] != last.hash:
        return ChainBreak(seq, "previous-hash link does not match the event before it", stream)
    if event_hash(stream_event(row), last.hash) != row["hash"]:
        return ChainBreak(seq, "event content does not match its hash (edited)", stream)
    return None


@dataclass(frozen=True)
class Fold:
    """What sealing a batch does: the chain events to append, the new chain head, each stream's
    new sealed position, the intake rows sealed, and the streams whose next event breaks a link
    (left unsealed, for ``audit verify`` and an operator to see)."""

    events: list[dict[str, Any]]
    head: StreamPosition
    positions: dict[str, StreamPosition]
    sealed_ids: list[int]
    broken: dict[str, ChainBreak]


def fold(head: StreamPosition, rows: Iterable[Mapping[str, Any]], positions: Mapping[str, StreamPosition]) -> Fold:
    """Fold intake rows (in intake order) into the chain after ``head``. Each row must continue
    its stream from ``positions`` (where the sealer left it; the genesis for a new stream): a row
    that does not stops its stream here, so an edited or removed event is never sealed over."""
    out = Fold([], head, dict(positions), [], {})
    seq, prev = head.seq, head.hash
    for row in rows:
        stream = row["stream"]
        if stream in out.broken:
            continue
        broken = _link_break(stream, row, out.positions.get(stream) or StreamPosition(0, stream_genesis(stream)))
        if broken is not None:
            out.broken[stream] = broken
            continue
        seq += 1
        event = {**{k: row.get(k) for k in FIELDS}, "seq": seq, "prev_hash": prev}
        event["hash"] = prev = event_hash(event, prev)
        out.events.append(event)
        out.positions[stream] = StreamPosition(row["stream_seq"], row["hash"])
        out.sealed_ids.append(int(row["id"]))
    return Fold(out.events, StreamPosition(seq, prev), out.positions, out.sealed_ids, out.broken)


def verify_chain(events: Iterable[Mapping[str, Any]]) -> tuple[int, ChainBreak | None]:
    """Walk events in seq order; return how many were checked and the first broken link, if any."""
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    for event in events:
        seq = event["seq"]
        if seq != expected_seq:
            return count, ChainBreak(seq, f"sequence jumps from {expected_seq - 1} to {seq}: events missing or reordered")
        if event["prev_hash"] != prev_hash:
            return count, ChainBreak(seq, "previous-hash link does not match the event before it")
        if event_hash(event, prev_hash) != event["hash"]:
            return count, ChainBreak(seq, "event content does not match its hash (edited)")
        prev_hash = event["hash"]
        expected_seq += 1
        count += 1
    return count, None
