"""The audit trail as a hash chain: each event commits to the one before it, so an edit, a
deletion or a reordering anywhere breaks every link after it (全过程留痕)."""

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
