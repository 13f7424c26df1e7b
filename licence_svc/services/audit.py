"""The audit trail: what is recorded, the periodic signed checkpoint, and the chain check."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature

from ..core.audit import ChainBreak, verify_chain
from ..core.signeddoc import open_document, sign_document
from ..errors import LicenceError
from ..storage import audit as trail
from ..storage.db import transaction
from .platform import Platform, utcnow

log = logging.getLogger(__name__)
CHECKPOINT_EVERY = 100  # events between signed checkpoints of the chain head


def event(action: str, *, actor: str, outcome: str, licence: str | None = None, client: str | None = None, detail: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The keyword arguments of one audit event (storage.audit.append)."""
    return {"at": now or utcnow(), "actor": actor, "action": action, "outcome": outcome, "licence": licence, "client": client, "detail": detail}


def record(action: str, *, actor: str, outcome: str, licence: str | None = None, client: str | None = None, detail: str | None = None, now: datetime | None = None) -> None:
    """Record one event: inside a use case's transaction it joins it (both or neither exist);
    on its own (a download, a verification, a refused request) in a transaction of its own."""
    with transaction():
        trail.append(**event(action, actor=actor, outcome=outcome, licence=licence, client=client, detail=detail, now=now))


def maybe_checkpoint(platform: Platform) -> None:
    """Sign the chain head when enough events have passed since the last checkpoint."""
    seq, _ = trail.head()
    if seq - trail.last_checkpoint_seq() >= CHECKPOINT_EVERY:
        checkpoint(platform)


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

    @property
    def intact(self) -> bool:
        return self.broken is None


def verify_trail(platform: Platform) -> TrailReport:
    """Walk the whole chain, then check every signed checkpoint against it."""
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
