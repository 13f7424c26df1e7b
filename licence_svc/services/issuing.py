"""Issuing a licence: validate, authorise, sign the QR payload, render, certify, store.

The PDF is written (atomically) before the record is committed: a crash in between leaves at
most an orphan file that no register entry vouches for (verification then says so), never a
record without its PDF. On a database error the file stays: the commit may have gone through.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from typing import Any

from ..core import fonts
from ..core.dates import CHINA
from ..core.identifiers import LicenceId, new_licence_id
from ..core.kinds import KindSpec, get_kind, validate
from ..core.masking import mask_name
from ..core.payload import Claims, canonical_json, data_digest, qr_text, sign_claims
from ..core.pdfsign import sha256_hex, sign_licence_pdf
from ..core.render import RenderRequest, render_pdf
from ..errors import Conflict, InvalidInput, NotAuthorised, SigningKeyRetired, Unavailable
from ..storage.db import transaction
from ..storage.departments import DepartmentRecord, departments_for_kind, find_department
from ..storage.holders import ClaimCodeRecord, add_claim_codes, add_holders
from ..storage.licences import (
    LicenceRecord,
    change_status,
    free_status_index,
    get_licence,
    hold_signing_key,
    idempotent_result,
    insert_licence,
    store_idempotency,
)
from ..storage.pdfstore import pdf_key
from . import audit
from .claim_codes import fresh_codes, remint
from .platform import Platform, utcnow
from .records import Issued

log = logging.getLogger(__name__)
ATTACHMENT_FORMAT = "licence-data/1"

def _replay(platform: Platform, department: str, key: str, request_hash: str, *, load_pdf: bool = True) -> Issued | None:
    """The licence an earlier request with this Idempotency-Key minted; another body → Conflict."""
    stored = idempotent_result(department, key)
    if stored is None:
        return None
    if stored[0] != request_hash:
        raise Conflict("Idempotency-Key was already used with a different request body")
    row = get_licence(stored[1])
    pdf = platform.pdfs.get(row.pdf_key) if load_pdf else b""
    return Issued(row.identifier, row.kind, row.version, row.status, row.issued_at, row.qr_text, pdf, row.pdf_sha256, replayed=True)


def _with_codes(replay: Issued, wanted: bool) -> Issued:
    return replace(replay, claim_codes=tuple(remint(replay.identifier))) if wanted else replay


def end_of_day_china(day: Any) -> int:
    """A licence valid until a date is valid through that whole day, Beijing time."""
    return int(datetime.combine(day + timedelta(days=1), time(0), CHINA).timestamp()) - 1


def resolve_department(kind: KindSpec, code: str | None) -> DepartmentRecord:
    """The issuing department; refuse unknown ones and kinds they may not issue."""
    if code is None:
        candidates = departments_for_kind(kind.name)
        if len(candidates) != 1:
            raise InvalidInput.single("department", "required: give the issuing department's code")
        return candidates[0]
    dept = find_department(code)
    if dept is None:
        raise InvalidInput.single("department", f"no department with code {code}")
    if kind.name not in dept.kinds:
        raise NotAuthorised(f"department {dept.code} ({dept.name}) is not authorised to issue {kind.name} ({kind.label})")
    return dept


def issue(
    platform: Platform,
    *,
    kind: str,
    data: object,
    department: str | None = None,
    now: datetime | None = None,
    previous: LicenceId | None = None,
    actor: str = "cli",
    client: str | None = None,
    idempotency_key: str | None = None,
    load_replay_pdf: bool = True,
    with_claim_codes: bool = True,
) -> Issued:
    """Mint one licence (or, with ``previous``, its next version), with a one-time claim code for
    each holder (not for bulk conversion: departments ask for those when they notify holders).
    A replayed Idempotency-Key gets fresh claim codes: the first response may never have arrived.

    Raises InvalidInput (every field problem at once), NotAuthorised, Unavailable.
    """
    spec = get_kind(kind)
    dept = resolve_department(spec, department)
    request_hash = hashlib.sha256(canonical_json({"kind": kind, "data": data})).hexdigest() if idempotency_key else ""
    if idempotency_key:
        replay = _replay(platform, dept.code, idempotency_key, request_hash, load_pdf=load_replay_pdf)
        if replay:
            return _with_codes(replay, with_claim_codes)
    clean = validate(spec.name, data, can_render=fonts.can_render)
    now = now or utcnow()  # before the key is read: a rotation after that read is dated later still
    expiry = spec.expiry_date(clean)
    digest = data_digest(clean)
    for _attempt in range(3):  # a serial or position clash with a concurrent issue draws again
        key_row, signer, creds = platform.signer_for(dept)
        lid = previous.next_version() if previous else new_licence_id(spec.kind_code, dept.code)
        identifier = str(lid)
        status_index = free_status_index(dept.code)  # signed into the QR code: drawn before rendering
        claims = Claims(
            identifier=identifier,
            kind=spec.name,
            issuer=dept.code,
            issued_at=int(now.timestamp()),
            expires_at=end_of_day_china(expiry) if expiry else None,
            holder=mask_name(spec.holder_name(clean)),
            digest=digest,
            status_index=status_index,
        )
        text = qr_text(platform.settings.base_url, sign_claims(claims, creds.key, creds.kid))  # type: ignore[arg-type]
        page = render_pdf(
            RenderRequest(
                kind=spec,
                data=clean,
                identifier=identifier,
                issuer_name=dept.name,
                issued_on=now.astimezone(CHINA).date(),
                qr_text=text,
            )
        )
        attachment = {
            "format": ATTACHMENT_FORMAT,
            "identifier": identifier,
            "kind": spec.name,
            "kind_label": spec.label,
            "version": lid.version,
            "issuer": {"code": dept.code, "name": dept.name},
            "issued_at": now.isoformat(),
            "data": clean,
            "qr_text": text,
        }
        pdf = sign_licence_pdf(
            page,
            attachment=json.dumps(attachment, ensure_ascii=False, indent=1).encode("utf-8"),
            signer=signer,
            reason=f"{spec.label}电子证照签发",
        )
        key = pdf_key(identifier)
        sha = sha256_hex(pdf)
        holders = list(dict.fromkeys(spec.holder_ids(clean)))
        codes, code_records = fresh_codes(identifier, holders, now) if with_claim_codes else ([], [])
        record = LicenceRecord(
            identifier=identifier,
            serial=lid.serial,
            version=lid.version,
            kind=spec.name,
            issuer=dept.code,
            kid=key_row.kid,
            status="valid",
            status_reason=None,
            status_category=None,
            status_index=status_index,
            superseded_by=None,
            holder=holders[0],
            data_json=canonical_json(clean).decode("utf-8"),
            data_digest=digest.hex(),
            qr_text=text,
            pdf_key=key,
            pdf_sha256=sha,
            issued_at=now,
            expires_at=datetime.fromtimestamp(claims.expires_at, timezone.utc) if claims.expires_at else None,
        )
        platform.pdfs.put(key, pdf)
        try:
            _store(
                record,
                previous=str(previous) if previous else None,
                holders=holders,
                claim_codes=code_records,
                idempotency=(idempotency_key, request_hash) if idempotency_key else None,
                actor=actor,
                client=client,
            )
        except SigningKeyRetired:
            platform.pdfs.delete(key)  # not inserted: sign again with the department's new key
            continue
        except Conflict:
            platform.pdfs.delete(key)  # certainly not inserted: this identifier belongs to another licence
            if idempotency_key:
                replay = _replay(platform, dept.code, idempotency_key, request_hash, load_pdf=load_replay_pdf)
                if replay:  # a concurrent retry with the same key won the race: same licence
                    return _with_codes(replay, with_claim_codes)
            if previous:
                raise Conflict("a newer version of this licence was issued concurrently") from None
            continue
        log.info("issued licence", extra={"identifier": identifier, "kind": spec.name, "issuer": dept.code})
        return Issued(identifier, spec.name, lid.version, "valid", now, text, pdf, sha, claim_codes=tuple(codes))
    raise Unavailable("could not allocate a unique identifier")


def _store(
    record: LicenceRecord,
    *,
    previous: str | None,
    holders: list[str],
    claim_codes: list[ClaimCodeRecord],
    idempotency: tuple[str, str] | None,
    actor: str,
    client: str | None,
) -> None:
    """The issue's one transaction: the licence, its holders and claim codes, the Idempotency-Key
    (a second request with the same key then clashes here rather than minting a second licence),
    the older version superseded (never a moment with two versions in force) and the audit events.

    The signing key is held first (FOR SHARE on PostgreSQL) so a rotation waits for this licence.
    Raises SigningKeyRetired, or Conflict (an identifier, position or key already taken, or the
    older version no longer in force), the transaction then rolled back."""
    with transaction():
        hold_signing_key(record.kid)
        insert_licence(record)
        add_holders(record.identifier, holders)
        add_claim_codes(claim_codes)
        if idempotency is not None:
            key, request_hash = idempotency
            store_idempotency(department=record.issuer, key=key, request_hash=request_hash, licence=record.identifier, created_at=record.issued_at)
        if previous:
            change_status(
                previous,
                allowed_from=("valid", "suspended"),
                to="superseded",
                actor=actor,
                reason=f"变更为第{record.version:03d}版",
                at=record.issued_at,
                superseded_by=record.identifier,
            )
        audit.record("change" if previous else "issue", actor=actor, outcome="ok", licence=record.identifier, client=client, now=record.issued_at)
        if previous:
            audit.record("supersede", actor=actor, outcome="ok", licence=previous, client=client, now=record.issued_at, detail=f"by {record.identifier}")
