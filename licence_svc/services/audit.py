"""The audit trail: what is recorded, the sealer that folds it into the chain and signs
checkpoints, and the check of both (docs/audit.md)."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature

from ..core.audit import ChainBreak, fold, verify_chain, verify_stream
from ..core.signeddoc import open_document, sign_document
from ..errors import LicenceError
from ..storage import audit as trail
from ..storage.db import close as close_connection
from ..storage.db import connect, transaction
from .platform import Platform, utcnow

log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 100  # sealed events between signed checkpoints of the chain head
SEAL_BATCH = 500  # events folded into the chain per transaction: the write lock is held ~25 ms
SEAL_INTERVAL = 0.5  # seconds between the sealer's rounds while events arrive (docs/audit.md)


def event(action: str, *, actor: str, outcome: str, licence: str | None = None, client: str | None = None, detail: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The keyword arguments of one audit event (storage.audit.append)."""
    return {"at": now or utcnow(), "actor": actor, "action": action, "outcome": outcome, "licence": licence, "client": client, "detail": detail}


def record(action: str, *, actor: str, outcome: str, licence: str | None = None, client: str | None = None, detail: str | None = None, now: datetime | None = None) -> None:
    """Record one event, on disk before this returns: inside a use case's transaction it joins
    it (both or neither exist); on its own (a download, a refused request) in a transaction of its own."""
    with transaction():
        trail.append(**event(action, actor=actor, outcome=outcome, licence=licence, client=client, detail=detail, now=now))


def record_public(action: str, *, actor: str, outcome: str, licence: str | None = None, client: str | None = None, detail: str | None = None) -> None:
    """Record a public check: committed before the answer. In a process whose sealer runs, without
    waiting for the disk: a crash of any process loses none, a power failure at most the last
    SEAL_INTERVAL (the sealer's durable commit syncs them; docs/audit.md). Elsewhere (a command)
    durably, as there is no sealer to bound the window."""
    fields = event(action, actor=actor, outcome=outcome, licence=licence, client=client, detail=detail)
    if _running:
        trail.append_lazily(**fields)
    else:
        with transaction():
            trail.append(**fields)


def seal(platform: Platform | None = None, *, limit: int = SEAL_BATCH) -> int:
    """Fold up to ``limit`` recorded events into the chain (one durable transaction), and sign a
    checkpoint when enough have been sealed since the last. Returns how many were sealed; 0 when
    there was nothing to do or another sealer holds the chain."""
    # Read and fold without the write lock (hashing a batch is the long part); then write it
    # under the lock only if no other sealer moved the chain meanwhile (every seal moves the head).
    head = trail.head_position()
    batch = trail.intake_batch(limit)
    if not batch:
        return 0
    result = fold(head, batch, trail.sealed_positions(sorted({r["stream"] for r in batch})))
    with transaction():
        if not trail.try_sealer_lock() or trail.lock_head() != head:
            return 0  # another sealer is at work: the next round takes what is left
        trail.save_fold(result)
    for stream, broken in result.broken.items():
        log.error("audit stream %s left unsealed: %s (event %s); run `cli.py audit verify`", stream, broken.reason, broken.seq)
    if platform is not None and result.head.seq - trail.last_checkpoint_seq() >= CHECKPOINT_EVERY:
        checkpoint(platform)
    return len(result.sealed_ids)


def seal_all(platform: Platform | None = None) -> int:
    """Seal until the intake holds nothing sealable; returns how many were sealed."""
    total = 0
    while (done := seal(platform)) > 0:
        total += done
    return total


_running: set[Sealer] = set()  # the sealers started in this process


class Sealer:
    """The background sealer of a process: every SEAL_INTERVAL it folds what was recorded into
    the chain. Every web process runs one; only one seals at a time (the chain head's lock),
    the others find nothing to do or skip the round. Its commit is durable, so it also puts on
    disk the public checks committed before it (SQLite's WAL is synced with it)."""

    def __init__(self, platform: Platform, interval: float = SEAL_INTERVAL) -> None:
        self.platform = platform
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> Sealer:
        self._thread.start()
        _running.add(self)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        _running.discard(self)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                connect()
                seal_all(self.platform)
            except Exception:  # noqa: BLE001 - a failed round is retried at the next; the events wait in the intake
                log.exception("audit sealer round failed")
                close_connection()


def head() -> tuple[int, str]:
    """(seq, hash) of the sealed chain's head."""
    return trail.head()


def checkpoint(platform: Platform) -> tuple[int, str]:
    seq, head_hash = trail.head()
    root = platform.root_credentials()
    at = utcnow().isoformat()
    envelope = sign_document({"type": "AuditCheckpoint", "seq": seq, "hash": head_hash, "at": at}, root.key, root.cert)  # type: ignore[arg-type]
    with transaction():
        trail.save_checkpoint(seq, head_hash, at, json.dumps(envelope))
    return seq, head_hash


@dataclass(frozen=True)
class TrailReport:
    events: int
    head_seq: int
    broken: ChainBreak | None
    checkpoints: int
    pending: int = 0  # recorded, not yet sealed: checked stream by stream
    streams: int = 0

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_trail(platform: Platform) -> TrailReport:
    """Walk the whole chain, check every signed checkpoint against it, then walk every stream's
    events not yet sealed from where the sealer left it to the head the stream recorded."""
    report = _verify_chain(platform)
    pending, streams, broken = _verify_streams()
    return TrailReport(report.events, report.head_seq, report.broken or broken, report.checkpoints, pending, streams)


def _verify_streams() -> tuple[int, int, ChainBreak | None]:
    listed = {sid: (sealed, head) for sid, sealed, head in trail.streams()}
    orphans = set(trail.intake_streams()) - set(listed)
    if orphans:
        heads = trail.stream_heads(sorted(orphans))
        for sid in sorted(orphans):
            if sid not in heads:
                return 0, 0, ChainBreak(None, "events of a stream with no recorded head", sid)
        # a stream whose head was set back to its sealed position, with events still here
        return 0, 0, ChainBreak(None, "stream head records fewer events than the intake holds (head rewritten)", sorted(orphans)[0])
    pending = 0
    for sid, (sealed, head) in sorted(listed.items()):
        count, broken = verify_stream(sid, trail.stream_events(sid), sealed, head)
        pending += count
        if broken is not None:
            return pending, len(listed), broken
    return pending, len(listed), None


def _verify_chain(platform: Platform) -> TrailReport:
    events = list(trail.iter_events())
    count, broken = verify_chain(events)
    head_seq, head_hash = trail.head()
    if broken is None and events and (events[-1]["seq"] != head_seq or events[-1]["hash"] != head_hash):
        broken = ChainBreak(events[-1]["seq"], "chain head does not match the last event (events removed from the end)")
    if broken is None and not events and head_seq:
        broken = ChainBreak(1, "events missing: the chain head records more than the trail holds")
    by_seq = {e["seq"]: e for e in events}
    cps = trail.checkpoints()
    root = platform.root_cert()
    for cp in cps:
        if broken is not None:
            break
        try:
            body = open_document(json.loads(cp["signature"]), root)
        except (LicenceError, ValueError, InvalidSignature):
            broken = ChainBreak(cp["seq"], "checkpoint signature does not verify")
            break
        event_at = by_seq.get(cp["seq"])
        if body.get("hash") != cp["hash"] or body.get("seq") != cp["seq"]:
            broken = ChainBreak(cp["seq"], "checkpoint row differs from what was signed")
        elif cp["seq"] and (event_at is None or event_at["hash"] != cp["hash"]):
            broken = ChainBreak(cp["seq"], "chain differs from the signed checkpoint (rewritten)")
    return TrailReport(count, head_seq, broken, len(cps))
