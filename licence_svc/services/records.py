"""What an issuing department may read about its own licences: records, PDFs, lists, history."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..core.identifiers import parse_licence_id
from ..core.statuslist import CODES
from ..errors import FieldProblem, InvalidInput, NotFound
from ..storage import audit as trail
from ..storage.db import transaction
from ..storage.licences import LicenceRecord, find_licence, list_licences, status_events
from . import audit, usage
from .platform import Platform
from .tokens import Principal

MAX_PAGE = 100
_HOLDER = re.compile(r"[0-9A-Z]{1,18}")


def _iso(value: datetime | None) -> str | None:
    """A stored time in ISO 8601 with its zone (PostgreSQL hands UTC back naive)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def _pdf_url(base_url: str, identifier: str) -> str:
    return f"{base_url.rstrip('/')}/api/v1/licences/{identifier}/pdf"


@dataclass(frozen=True)
class Issued:
    """A licence just minted (or replayed for a repeated Idempotency-Key), with its PDF."""

    identifier: str
    kind: str
    version: int
    status: str
    issued_at: datetime
    qr_text: str
    pdf: bytes
    pdf_sha256: str
    replayed: bool = False  # returned for a repeated Idempotency-Key, not newly minted
    claim_codes: tuple[tuple[str, str], ...] = ()  # (holder id, one-time code) to hand to each holder


def summary(row: LicenceRecord, base_url: str) -> dict[str, Any]:
    return {
        "identifier": row.identifier,
        "kind": row.kind,
        "version": row.version,
        "status": row.status,
        "status_reason": row.status_reason,
        "status_category": row.status_category,
        "issued_at": _iso(row.issued_at),
        "expires_at": _iso(row.expires_at),
        "superseded_by": row.superseded_by,
        "pdf_url": _pdf_url(base_url, row.identifier),
        "qr_text": row.qr_text,
    }


def issued_summary(issued: Issued, base_url: str) -> dict[str, Any]:
    """What the issuing department is told about a licence just issued (claim codes not included)."""
    return {
        "identifier": issued.identifier,
        "kind": issued.kind,
        "status": issued.status,
        "version": issued.version,
        "issued_at": _iso(issued.issued_at),
        "pdf_url": _pdf_url(base_url, issued.identifier),
        "qr_text": issued.qr_text,
    }


def owned(principal: Principal, identifier: str, client: str | None) -> LicenceRecord:
    """The licence, if ``principal``'s department issued it and its token covers the kind.

    Another department's licence is NotFound exactly as an unknown identifier is (same status,
    same problem apart from the identifier), so a token cannot probe which licences exist. Both
    refusals are audited as denied (outcome forbidden or not_found): the audit keeps the truth,
    and the two answers cost the same write, so timing tells no more than the answer.

    Raises InvalidInput (malformed identifier), NotFound, or NotAuthorised (the department's own
    licence of a kind the token does not cover; audited).
    """
    parse_licence_id(identifier)
    row = find_licence(identifier)
    if row is None or row.issuer != principal.department:
        audit.record(
            "denied",
            actor=principal.actor,
            outcome="not_found" if row is None else "forbidden",
            licence=identifier,
            client=client,
            detail="no such licence" if row is None else "licence of another department",
        )
        raise NotFound(f"no licence {identifier}")
    principal.require_kind(row.kind, licence=identifier, client=client)
    return row


def record(platform: Platform, principal: Principal, identifier: str, *, client: str | None = None) -> dict[str, Any]:
    """The full record, personal data included: only for the issuing department, and every read
    of it leaves an audit event."""
    row = owned(principal, identifier, client)
    with transaction():
        audit.record("read", actor=principal.actor, outcome="ok", licence=identifier, client=client)
        usage.record(identifier, "read", organisation=principal.department, purpose="签发部门调取本部门证照记录")
    out = summary(row, platform.settings.base_url)
    out["issuer"] = row.issuer
    out["data"] = json.loads(row.data_json)
    out["pdf_sha256"] = row.pdf_sha256
    return out


def pdf(platform: Platform, principal: Principal, identifier: str, *, client: str | None = None) -> bytes:
    row = owned(principal, identifier, client)
    data = platform.pdfs.get(row.pdf_key)
    with transaction():
        audit.record("download", actor=principal.actor, outcome="ok", licence=identifier, client=client)
        usage.record(identifier, "download", organisation=principal.department, purpose="签发部门下载本部门证照文件")
    return data


def history(principal: Principal, identifier: str, *, client: str | None = None) -> dict[str, Any]:
    """The licence's audit events, and its status changes with their reasons."""
    owned(principal, identifier, client)
    return {
        "identifier": identifier,
        "events": [
            {k: e[k] for k in ("seq", "at", "actor", "action", "outcome", "client", "detail")}
            for e in trail.events_for(identifier)
        ],
        "status_changes": [
            {"at": _iso(e.at), "from": e.from_status, "to": e.to_status, "actor": e.actor, "reason": e.reason}
            for e in status_events(identifier)
        ],
    }


def _utc_in_range(value: datetime) -> datetime:
    """A UTC date-time the database can hold; raises ValueError otherwise."""
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        value = value.astimezone(timezone.utc)
    except OverflowError as exc:
        raise ValueError("out of range") from exc
    if not 1900 <= value.year <= 9000:
        raise ValueError("out of range")
    return value


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, ident = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        parse_licence_id(str(ident))
        return _utc_in_range(datetime.fromisoformat(at)), str(ident)
    except (ValueError, TypeError, InvalidInput) as exc:
        raise InvalidInput.single("cursor", "not a cursor this API returned") from exc


def _encode_cursor(row: LicenceRecord) -> str:
    at = row.issued_at
    return base64.urlsafe_b64encode(json.dumps([at.isoformat(), row.identifier]).encode()).decode().rstrip("=")


def listing(
    platform: Platform,
    principal: Principal,
    *,
    kind: str | None,
    status: str | None,
    holder: str | None,
    issued_after: str | None,
    cursor: str | None,
    limit: int = 50,
) -> dict[str, Any]:
    """The department's own licences, newest first; ``next_cursor`` pages on."""
    problems = []
    if kind is not None and kind not in principal.kinds:
        principal.require_kind(kind)
    if status is not None and status not in CODES:
        problems.append(("status", f"one of {', '.join(CODES)}"))
    after_dt = None
    if issued_after:
        try:
            after_dt = _utc_in_range(datetime.fromisoformat(issued_after))
        except ValueError:
            problems.append(("issued_after", "must be an ISO 8601 date or date-time between 1900 and 9000"))
    if holder is not None and not _HOLDER.fullmatch(holder.strip().upper()):
        problems.append(("holder", "an ID number or unified social credit code (up to 18 letters and digits)"))
    if not 1 <= limit <= MAX_PAGE:
        problems.append(("limit", f"between 1 and {MAX_PAGE}"))
    if problems:
        raise InvalidInput([FieldProblem(f, r) for f, r in problems])
    rows = list_licences(
        issuer=principal.department,
        kinds=principal.kinds,
        kind=kind,
        status=status,
        holder=holder.strip().upper() if holder else None,
        issued_after=after_dt,
        after=_decode_cursor(cursor) if cursor else None,
        limit=limit + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [summary(r, platform.settings.base_url) for r in rows],
        "next_cursor": _encode_cursor(rows[-1]) if more and rows else None,
    }
