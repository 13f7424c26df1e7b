"""Licence rows: inserts, status changes and look-ups, with database failures turned into domain errors.

Every function runs its statements in the caller's transaction (``storage.db.transaction()``,
opened by the service's use case); those whose statements only hold together in one (a lock and
the write it guards) refuse to run outside one. Rows leave as frozen records, never model rows.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import peewee

from ..core.statuslist import list_length
from ..errors import Conflict, NotFound, SigningKeyRetired, Unavailable
from .db import database, register_errors, require_transaction, rows
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
    query = SigningKey.select(SigningKey.active, SigningKey.withdrawn_at).where(SigningKey.kid == kid)
    if not isinstance(database.obj, peewee.SqliteDatabase):  # SQLite: the write lock is already ours
        query = query.for_update("FOR SHARE")  # type: ignore[arg-type]  # peewee takes the lock clause as text too
    key = query.first()
    if key is None or not key.active or key.withdrawn_at is not None:
        raise SigningKeyRetired(f"signing key {kid} was retired or withdrawn during the issue")


def insert_licence(record: LicenceRecord) -> None:
    """Insert one licence; its identifier, or its position in the issuer's status list, already
    taken is a Conflict (raised by the transaction, which is then rolled back)."""
    require_transaction("insert_licence")
    Licence.create(
        identifier=record.identifier,
        serial=record.serial,
        version=record.version,
        kind=record.kind,
        issuer=record.issuer,
        kid=record.kid,
        status=record.status,
        status_reason=record.status_reason,
        status_category=record.status_category,
        status_index=record.status_index,
        superseded_by=record.superseded_by,
        holder=record.holder,
        data_json=record.data_json,
        data_digest=record.data_digest,
        qr_text=record.qr_text,
        pdf_key=record.pdf_key,
        pdf_sha256=record.pdf_sha256,
        issued_at=record.issued_at,
        expires_at=record.expires_at,
    )


def store_idempotency(*, department: str, key: str, request_hash: str, licence: str, created_at: datetime) -> None:
    """Remember which licence a department's Idempotency-Key minted; stored with the licence, a
    second request with the same key clashes here (Conflict) rather than minting a second one."""
    IdempotencyKey.create(department=department, key=key, request_hash=request_hash, licence=licence, created_at=created_at)


def idempotent_result(department: str, key: str) -> tuple[str, str] | None:
    """(request hash, licence identifier) stored for a department's Idempotency-Key."""
    with register_errors():
        row = IdempotencyKey.get_or_none((IdempotencyKey.department == department) & (IdempotencyKey.key == key))
        return (row.request_hash, row.licence) if row else None


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


def find_licence_for_verification(identifier: str) -> VerifiableLicence | None:
    """What verification reads of a licence (VerifiableLicence), in one indexed read."""
    with register_errors():
        row = (
            Licence.select(
                Licence.identifier,
                Licence.status,
                Licence.status_category,
                Licence.data_digest,
                Licence.qr_text,
                Licence.pdf_sha256,
                Licence.holder,
                Licence.superseded_by,
                Licence.kid,
            )
            .where(Licence.identifier == identifier)
            .first()
        )
        if row is None:
            return None
        return VerifiableLicence(
            identifier=row.identifier,
            status=row.status,
            status_category=row.status_category,
            data_digest=row.data_digest,
            qr_text=row.qr_text,
            pdf_sha256=row.pdf_sha256,
            holder=row.holder,
            superseded_by=row.superseded_by,
            kid=row.kid,
        )


def get_licence(identifier: str) -> LicenceRecord:
    """The licence; NotFound for an unknown identifier."""
    record = find_licence(identifier)
    if record is None:
        raise NotFound(f"no licence {identifier}")
    return record


def free_status_index(department_code: str) -> int:
    """A random unused position in the department's status list, growing the list when half full.

    Not reserved: a concurrent issue may draw the same one, and the second insert is then a
    Conflict (the unique index), on which the issue draws again."""
    require_transaction("free_status_index")
    dept = Department.get_by_id(department_code)
    count = Licence.select().where(Licence.issuer == department_code).count()
    length = list_length(count + 1, dept.status_list_length)
    if length != dept.status_list_length:
        Department.update(status_list_length=length).where(
            (Department.code == department_code) & (Department.status_list_length < length)
        ).execute()
    for _ in range(64):
        index = secrets.randbelow(length)
        taken = Licence.select().where((Licence.issuer == department_code) & (Licence.status_index == index)).exists()
        if not taken:
            return index
    raise Unavailable("could not find a free status list position")


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


def signing_keys_stamp() -> tuple[object, ...]:
    """Changes whenever a signing key is added, retired or withdrawn, or a department is added."""
    with register_errors():
        keys = SigningKey.select(
            peewee.fn.COUNT(SigningKey.kid), peewee.fn.MAX(SigningKey.created_at), peewee.fn.MAX(SigningKey.withdrawn_at),
            peewee.fn.SUM(peewee.Case(None, [(SigningKey.active, 1)], 0)),
        ).tuples().first()
        depts = Department.select(peewee.fn.COUNT(Department.code)).tuples().first()
        return tuple(keys or ()) + tuple(depts or ())


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
