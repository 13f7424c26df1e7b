"""Licence rows: inserts, status changes and look-ups, with database failures turned into domain errors."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import peewee

from ..errors import Conflict, NotFound, SigningKeyRetired, Unavailable
from .db import database, register_errors, write_transaction
from .models import Department, IdempotencyKey, Licence, SigningKey, StatusEvent


def insert_licence(
    fields: dict[str, Any],
    *,
    supersedes: str | None = None,
    actor: str = "",
    audit: list[dict[str, Any]] | None = None,
    idempotency: dict[str, Any] | None = None,
    holders: list[str] | None = None,
    claim_codes: list[dict[str, Any]] | None = None,
) -> Licence:
    """Insert one licence in its own transaction (with its Idempotency-Key, when given: a second
    request with the same key then clashes here rather than minting a second licence); with ``supersedes``, the older version becomes
    superseded in the same transaction, so there is never a moment with two versions in force;
    ``audit`` (keyword arguments of storage.audit.append) is recorded in that transaction too."""
    from . import audit as audit_trail
    from .holders import add_holders

    with register_errors(), write_transaction():
        _require_signing_key(fields["kid"])
        row = Licence.create(**fields)
        add_holders(row.identifier, holders or [fields["holder"]], claim_codes or [])
        if idempotency is not None:
            IdempotencyKey.create(**idempotency, licence=row.identifier)
        if supersedes:
            change_status(
                supersedes,
                allowed_from=("valid", "suspended"),
                to="superseded",
                actor=actor,
                reason=f"变更为第{row.version:03d}版",
                at=row.issued_at,
                superseded_by=row.identifier,
            )
        for event in audit or ():
            audit_trail.append(**event)
        return row


def _require_signing_key(kid: str) -> None:
    """The key that signed this licence must still be the department's to use, checked in the
    inserting transaction and held (FOR SHARE) until it commits: a rotation then waits for us and
    dates the retirement after this licence, so offline verifiers never see a genuine licence
    dated after its key's retirement."""
    query = SigningKey.select(SigningKey.active, SigningKey.withdrawn_at).where(SigningKey.kid == kid)
    if not isinstance(database.obj, peewee.SqliteDatabase):  # SQLite: the write lock is already ours
        query = query.for_update("FOR SHARE")
    key = query.first()
    if key is None or not key.active or key.withdrawn_at is not None:
        raise SigningKeyRetired(f"signing key {kid} was retired or withdrawn during the issue")


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
) -> list[Licence]:
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
        return list(query.order_by(Licence.issued_at.desc(), Licence.identifier.desc()).limit(limit))


def find_licence(identifier: str) -> Licence | None:
    with register_errors():
        return Licence.get_or_none(Licence.identifier == identifier)


def find_licence_for_verification(identifier: str) -> Licence | None:
    """Only the columns verification reads: the personal data (data_json, possibly with a photo)
    stays on disk, so a check costs the same at a thousand licences as at millions."""
    with register_errors():
        return (
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


def get_licence(identifier: str) -> Licence:
    row = find_licence(identifier)
    if row is None:
        raise NotFound(f"no licence {identifier}")
    return row


def free_status_index(department_code: str) -> int:
    """A random unused position in the department's status list, growing the list when half full."""
    with register_errors(), write_transaction():
        dept = Department.get_by_id(department_code)
        count = Licence.select().where(Licence.issuer == department_code).count()
        from ..core.statuslist import list_length

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
    audit: dict[str, Any] | None = None,
    category: str | None = None,
) -> Licence:
    """Move a licence to ``to`` if it is in one of ``allowed_from``; record who, when and why
    (and the audit event, when given) in the same transaction. ``category`` is the public
    category of a revocation (core.revocation.CATEGORIES); every other change clears it."""
    from . import audit as audit_trail

    with register_errors(), write_transaction():
        query = Licence.select().where(Licence.identifier == identifier)
        if not isinstance(database.obj, peewee.SqliteDatabase):
            query = query.for_update()
        row = query.first()
        if row is None:
            raise NotFound(f"no licence {identifier}")
        if row.status not in allowed_from:
            raise Conflict(f"licence is {row.status}; cannot change it to {to}")
        StatusEvent.create(licence=row, from_status=row.status, to_status=to, actor=actor, reason=reason, at=at)
        row.status = to
        row.status_reason = reason
        row.status_category = category
        if superseded_by:
            row.superseded_by = superseded_by
        row.save()
        if audit is not None:
            audit_trail.append(**audit)
        return row


def signing_keys_stamp() -> tuple[object, ...]:
    """Changes whenever a signing key is added, retired or withdrawn, or a department is added."""
    with register_errors():
        keys = SigningKey.select(
            peewee.fn.COUNT(SigningKey.kid), peewee.fn.MAX(SigningKey.created_at), peewee.fn.MAX(SigningKey.withdrawn_at),
            peewee.fn.SUM(peewee.Case(None, [(SigningKey.active, 1)], 0)),
        ).tuples().first()
        depts = Department.select(peewee.fn.COUNT(Department.code)).tuples().first()
        return tuple(keys or ()) + tuple(depts or ())


def status_events(identifier: str) -> list[StatusEvent]:
    with register_errors():
        return list(StatusEvent.select().where(StatusEvent.licence == identifier).order_by(StatusEvent.at, StatusEvent.id))


def status_entries() -> dict[str, tuple[int, list[tuple[int, str]]]]:
    """Per issuer: list length and (position, status) of every licence not valid."""
    with register_errors():
        out: dict[str, tuple[int, list[tuple[int, str]]]] = {
            d.code: (d.status_list_length, []) for d in Department.select()
        }
        rows = Licence.select(Licence.issuer, Licence.status_index, Licence.status).where(Licence.status != "valid").tuples()
        for issuer, index, status in rows:
            out[issuer][1].append((index, status))
        return out
