"""Bulk imports over HTTP: the body is kept as a file and imported in the background with the
same code as `cli.py import`; progress and the error report are read back by batch id."""

from __future__ import annotations

import csv
import logging
import secrets
import threading
from pathlib import Path
from typing import Any

from ..core.kinds import KINDS
from ..errors import InvalidInput, NotFound
from ..storage import db
from ..storage.batches import BatchRecord, add_batch, find_batch, update_batch
from ..storage.db import transaction
from . import bulk
from .platform import Platform, as_utc, utcnow
from .tokens import Principal

log = logging.getLogger(__name__)
MAX_ERRORS_SHOWN = 1000


def _dir(platform: Platform) -> Path:
    path = platform.settings.pdf_dir.parent / "batches"
    path.mkdir(parents=True, exist_ok=True)
    return path


def start_batch(platform: Platform, principal: Principal, *, kind: str, body: bytes, workers: int | None = None) -> str:
    """Store the JSON Lines body and start importing it; returns the batch id at once."""
    if kind not in KINDS:
        raise InvalidInput.single("kind", f"unknown licence kind; expected one of {', '.join(KINDS)}")
    principal.require_kind(kind)
    if not body.strip():
        raise InvalidInput.single("body", "empty: send JSON Lines, one record per line")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput.single("body", "must be UTF-8 JSON Lines") from None
    batch_id = secrets.token_hex(8)
    folder = _dir(platform)
    input_path = folder / f"{batch_id}.jsonl"
    input_path.write_bytes(body)
    now = utcnow()
    batch = BatchRecord(
        batch_id=batch_id,
        department=principal.department,
        kind=kind,
        status="queued",
        total=bulk.count_rows(input_path),
        input_path=str(input_path),
        errors_path=str(folder / f"{batch_id}.errors.csv"),
        created_at=now,
        updated_at=now,
    )
    with transaction():
        add_batch(batch)
    thread = threading.Thread(target=_run, args=(batch_id, principal, workers), name=f"batch-{batch_id}", daemon=True)
    thread.start()
    return batch_id


def _update(batch_id: str, **fields: Any) -> None:
    """One step of a batch's progress, in a transaction of its own (the issues run in between)."""
    with transaction():
        update_batch(batch_id, updated_at=utcnow(), **fields)


def _run(batch_id: str, principal: Principal, workers: int | None) -> None:
    db.connect()
    try:
        row = find_batch(batch_id)
        assert row is not None
        _update(batch_id, status="running")
        last = [0.0]

        def progress(s: bulk.Summary) -> None:
            if s.seconds - last[0] >= 1.0:
                last[0] = s.seconds
                _update(batch_id, issued=s.issued, skipped=s.skipped, rejected=s.rejected)

        summary = bulk.run_import(
            Path(row.input_path),
            kind=row.kind,
            department=row.department,
            actor=principal.actor,
            workers=workers,
            errors_path=Path(row.errors_path),
            on_progress=progress,
        )
        _update(batch_id, status="done", issued=summary.issued, skipped=summary.skipped, rejected=summary.rejected)
    except Exception as exc:  # noqa: BLE001 - a background job reports failure on its record
        log.exception("batch %s failed", batch_id)
        _update(batch_id, status="failed", message=f"{type(exc).__name__}: {exc}"[:300])
    finally:
        db.close()


def batch_report(principal: Principal, batch_id: str) -> dict[str, Any]:
    row = find_batch(batch_id)
    if row is None or row.department != principal.department:
        raise NotFound(f"no batch {batch_id}")  # another department's batch is not there for you
    errors: list[dict[str, Any]] = []
    path = Path(row.errors_path)
    if path.exists():
        with open(path, encoding="utf-8-sig", newline="") as fh:
            for i, rec in enumerate(csv.DictReader(fh)):
                if i >= MAX_ERRORS_SHOWN:
                    break
                errors.append({"row": int(rec["row"]), "field": rec["field"], "reason": rec["reason"]})
    return {
        "batch_id": row.batch_id,
        "kind": row.kind,
        "status": row.status,
        "total": row.total,
        "issued": row.issued,
        "skipped": row.skipped,
        "rejected": row.rejected,
        "done": row.issued + row.skipped + row.rejected,
        "message": row.message,
        "errors": errors,
        "created_at": as_utc(row.created_at).isoformat(),
        "updated_at": as_utc(row.updated_at).isoformat(),
    }
