"""Licence rows: inserts, status changes and look-ups, with database failures turned into domain errors.

Every function runs its statements in the caller's transaction (``storage.db.transaction()``,
opened by the service's use case); those whose statements only hold together in one (a lock and
the write it guards) refuse to run outside one. Rows leave as frozen records, never model rows.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import peewee

from ..core.statuslist import list_length
from ..errors import Conflict, NotFound, SigningKeyRetired, Unavailable
from .db import compiled, database, execute, insert_rows, is_sqlite, register_errors, require_transaction, rows
from .models import Department, IdempotencyKey, Licence, SigningKey, StatusEvent


@dataclass(frozen=True, slots=True)
class LicenceRecord:
    """One version of a licence as the register holds it (``issuer`` is the department's code)."""

    identifier: str
    serial: str
    version: int
    kind: str
    issuer: str
    kid: str
    status: str
    status_reason: str | None
    status_category: str | None
    status_index: int
    superseded_by: str | None
    holder: str
    data_json: str
    data_digest: str
    qr_text: str
    pdf_key: str
    pdf_sha256: str
    issued_at: datetime
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class VerifiableLicence:
    """Only the columns verification reads: the personal data (data_json, possibly with a photo)
    stays on disk, so a check costs the same at a thousand licences as at millions."""

    identifier: str
    status: str
    status_category: str | None
    data_digest: str
    qr_text: str
    pdf_sha256: str
    holder: str
    superseded_by: str | None
    kid: str


@dataclass(frozen=True, slots=True)
class StatusEventRecord:
    """One status change: who, when, why."""

    licence: str
    from_status: str
    to_status: str
    actor: str
    reason: str
    at: datetime


def licence_record(values: dict[str, Any]) -> LicenceRecord:
    """The record of a row read with ``.dicts()`` (foreign keys come as plain codes)."""
    return LicenceRecord(**values)


def hold_signing_key(kid: str) -> None:
    """The key that signed a licence being inserted must still be the department's to use, checked
    in the inserting transaction and held (FOR SHARE) until it commits: a rotation then waits for
    us and dates the retirement after this licence, so offline verifiers never see a genuine
    licence dated after its key's retirement. Raises SigningKeyRetired."""
    require_transaction("hold_signing_key")

    def sql() -> str:
        q = SigningKey.select(SigningKey.active, SigningKey.withdrawn_at).where(SigningKey.kid == kid)
        if not is_sqlite():  # SQLite: the write lock is already ours
            q = q.for_update("FOR SHARE")  # type: ignore[arg-type]  # peewee takes the lock clause as text too
        return str(q.sql()[0])

    key = execute(compiled("licences.hold_signing_key", sql), (kid,)).fetchone()
    if key is None or not key[0] or key[1] is not None:
        raise SigningKeyRetired(f"signing key {kid} was retired or withdrawn during the issue")


LICENCE_COLUMNS = tuple(LicenceRecord.__dataclass_fields__)


def insert_licence(record: LicenceRecord) -> None:
    """Insert one licence; its identifier, or its position in the issuer's status list, already
    taken is a Conflict (raised by the transaction, which is then rolled back)."""
    require_transaction("insert_licence")
    insert_rows(Licence, LICENCE_COLUMNS, [[getattr(record, name) for name in LICENCE_COLUMNS]])


def store_idempotency(*, department: str, key: str, request_hash: str, licence: str, created_at: datetime) -> None:
    """Remember which licence a department's Idempotency-Key minted; stored with the licence, a
    second request with the same key clashes here (Conflict) rather than minting a second one."""
    insert_rows(
        IdempotencyKey,
        ("department", "key", "request_hash", "licence", "created_at"),
        [(department, key, request_hash, licence, created_at)],
    )


def idempotent_result(department: str, key: str) -> tuple[str, str] | None:
    """(request hash, licence identifier) stored for a department's Idempotency-Key."""
    def sql() -> str:
        return str(
            IdempotencyKey.select(IdempotencyKey.request_hash, IdempotencyKey.licence)
            .where((IdempotencyKey.department == department) & (IdempotencyKey.key == key))
            .sql()[0]
        )

    with register_errors():
        row = execute(compiled("licences.idempotent_result", sql), (department, key)).fetchone()
        return (str(row[0]), str(row[1])) if row else None


def list_licences(
    *,
    issuer: str,
    kinds: frozenset[str],
    kind: str | None = None,
    status: str | None = None,
    holder: str | None = None,
    issued_after: datetime | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[LicenceRecord]:
    """A department's licences, newest first, keyset-paged by (issued_at, identifier)."""
    with register_errors():
        query = Licence.select().where((Licence.issuer == issuer) & (Licence.kind.in_(sorted(kinds))))
        if kind:
            query = query.where(Licence.kind == kind)
        if status:
            query = query.where(Licence.status == status)
        if holder:
            query = query.where(Licence.holder == holder)
        if issued_after:
            query = query.where(Licence.issued_at > issued_after)
        if after:
            at, ident = after
            query = query.where((Licence.issued_at < at) | ((Licence.issued_at == at) & (Licence.identifier < ident)))
        return [licence_record(r) for r in rows(query.order_by(Licence.issued_at.desc(), Licence.identifier.desc()).limit(limit))]


def find_licence(identifier: str) -> LicenceRecord | None:
    with register_errors():
        values = Licence.select().where(Licence.identifier == identifier).dicts().first()
        return licence_record(values) if values is not None else None


def get_licence(identifier: str) -> LicenceRecord:
    """The licence; NotFound for an unknown identifier."""
    record = find_licence(identifier)
    if record is None:
        raise NotFound(f"no licence {identifier}")
    return record


def free_status_index(department_code: str) -> int:
    """A random unused position in the department's status list.

    Not reserved: a concurrent issue may draw the same one, and the second insert is then a
    Conflict (the unique index), on which the issue draws again. Reads only, so it needs no
    transaction (no write lock while the licence is then signed), and it does not count the
    issuer's licences at every issue: a drawn position already taken, about as likely as the
    list is full, counts them and grows the list to stay at most half full (list_length). The
    list grows, never shrinks, so a length read before a concurrent growth still gives a
    position inside the list."""
    with register_errors():
        length = _status_list_length(department_code)
        for attempt in range(64):
            index = secrets.randbelow(length)
            if not _position_taken(department_code, index):
                return index
            if attempt == 0:
                length = _grow_status_list(department_code, length)
    raise Unavailable("could not find a free status list position")


def _status_list_length(department_code: str) -> int:
    def sql() -> str:
        return str(Department.select(Department.status_list_length).where(Department.code == department_code).sql()[0])

    row = execute(compiled("licences.status_list_length", sql), (department_code,)).fetchone()
    if row is None:
        raise NotFound(f"no department {department_code}")
    return int(row[0])


def _position_taken(department_code: str, index: int) -> bool:
    def sql() -> str:  # (issuer, status_index) is unique: one row at most
        return str(Licence.select(Licence.status_index).where((Licence.issuer == department_code) & (Licence.status_index == index)).sql()[0])

    return execute(compiled("licences.position_taken", sql), (department_code, index)).fetchone() is not None


def _grow_status_list(department_code: str, length: int) -> int:
    """The list's length once at most half full with one more licence (one conditional UPDATE:
    concurrent growths agree, and the length never shrinks)."""
    count = Licence.select().where(Licence.issuer == department_code).count()
    grown = list_length(count + 1, length)
    if grown != length:
        Department.update(status_list_length=grown).where(
            (Department.code == department_code) & (Department.status_list_length < grown)
        ).execute()
    return max(grown, _status_list_length(department_code))


def change_status(
    identifier: str,
    *,
    allowed_from: tuple[str, ...],
    to: str,
    actor: str,
    reason: str,
    at: datetime,
    superseded_by: str | None = None,
    category: str | None = None,
) -> LicenceRecord:
    """Move a licence to ``to`` if it is in one of ``allowed_from`` (the row locked until the
    caller's transaction ends), recording who, when and why. ``category`` is the public category
    of a revocation (core.revocation.CATEGORIES); every other change clears it.
    Raises NotFound, or Conflict when the licence is in another status."""
    require_transaction("change_status")
    query = Licence.select().where(Licence.identifier == identifier)
    if not isinstance(database.obj, peewee.SqliteDatabase):
        query = query.for_update()
    values = query.dicts().first()
    if values is None:
        raise NotFound(f"no licence {identifier}")
    record = licence_record(values)
    if record.status not in allowed_from:
        raise Conflict(f"licence is {record.status}; cannot change it to {to}")
    StatusEvent.create(licence=identifier, from_status=record.status, to_status=to, actor=actor, reason=reason, at=at)
    record = replace(record, status=to, status_reason=reason, status_category=category, superseded_by=superseded_by or record.superseded_by)
    Licence.update(
        status=record.status,
        status_reason=record.status_reason,
        status_category=record.status_category,
        superseded_by=record.superseded_by,
    ).where(Licence.identifier == identifier).execute()
    return record


def status_events(identifier: str) -> list[StatusEventRecord]:
    with register_errors():
        query = StatusEvent.select().where(StatusEvent.licence == identifier).order_by(StatusEvent.at, StatusEvent._meta.primary_key)
        return [
            StatusEventRecord(e["licence"], e["from_status"], e["to_status"], e["actor"], e["reason"], e["at"]) for e in rows(query)
        ]


def status_entries() -> dict[str, tuple[int, list[tuple[int, str]]]]:
    """Per issuer: list length and (position, status) of every licence not valid."""
    with register_errors():
        out: dict[str, tuple[int, list[tuple[int, str]]]] = {
            d.code: (d.status_list_length, []) for d in Department.select()
        }
        query = Licence.select(Licence.issuer, Licence.status_index, Licence.status).where(Licence.status != "valid")
        for row in rows(query):
            out[row["issuer"]][1].append((row["status_index"], row["status"]))
        return out
