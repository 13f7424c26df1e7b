"""Field-match checks (核验): a department confirms claimed facts about a holder's licence and gets
match flags, signed by the platform so the answer can be filed as evidence, never the stored values.

Who may ask: a department whose token has the ``check`` scope, with a purpose, and either the
holder's share grant for that licence or a check scope (department, kind) configured on the
platform. Checks under a check scope are written to the holder's usage log flagged as not
authorised by them ("reported to the holder").

A refused check reveals nothing: the input is checked, the rate limit applied and the
authorisation decided before the register is looked at, so a refusal reads the same whether or
not the holder has a licence of that kind.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..core import fieldcheck
from ..core.checkdigits import credit_code_problem, id_number_problem
from ..core.dates import CHINA
from ..core.kinds import KINDS, get_kind
from ..core.masking import mask_number
from ..core.signeddoc import sign_document
from ..errors import FieldProblem, InvalidInput, LicenceError, NotAuthorised, NotFound, RateLimited
from ..storage import checks as store
from ..storage import holders as holder_store
from ..storage.db import transaction
from ..storage.departments import department_exists
from ..storage.licences import LicenceRecord, find_licence
from . import audit, shares, usage
from .platform import Platform, utcnow
from .tokens import Principal
from .usage import MAX_PURPOSE

DOC_TYPE = "FieldCheckResult"  # in the signed body, so the answer cannot pass for another platform document
RATE_WINDOW = timedelta(seconds=60)
NO_LICENCE = ""  # usage row of a check that found no licence: counted for the rate limit, shown to nobody
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
REFUSED = "holder's authorisation required: give the holder's share code as `grant`, or ask the platform for a check scope for this kind"
GRANT_MISMATCH = "the share grant does not cover a licence of this kind held by this holder"


@dataclass(frozen=True)
class _Request:
    kind: str
    holder: str
    claims: dict[str, Any]
    purpose: str
    on: date | None


def _holder_id(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = fieldcheck.normalise_code(value)
    if id_number_problem(text) is None or credit_code_problem(text) is None:
        return text
    return None


def _purpose(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(unicodedata.normalize("NFC", value).split())
    if not 1 <= len(text) <= MAX_PURPOSE or not text.isprintable():
        return None
    return text


def _date(value: object) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return date.fromisoformat(value)  # ValueError for a day that does not exist
    raise ValueError(value)


def _parse(kind: object, holder: object, claims: object, purpose: object, on: object) -> _Request:
    """Every problem of the request at once; none of them depends on the register."""
    problems: list[FieldProblem] = []
    spec = None
    try:
        spec = get_kind(kind)
    except InvalidInput as exc:
        problems += exc.problems
    holder_id = _holder_id(holder)
    if holder_id is None:
        problems.append(FieldProblem("holder", "must be an 18-character id number or unified social credit code with a valid check character"))
    text = _purpose(purpose)
    if text is None:
        problems.append(FieldProblem("purpose", f"required: why the department checks (申请事由), 1-{MAX_PURPOSE} printable characters"))
    day = None
    if on is not None:
        try:
            day = _date(on)
        except ValueError:
            problems.append(FieldProblem("on", "must be a date as YYYY-MM-DD"))
    wanted: dict[str, Any] = {}
    if spec is not None:
        try:
            fieldcheck.normalise_claims(spec.name, {} if claims is None else claims)
            wanted = dict(claims or {})  # type: ignore[call-overload]
        except InvalidInput as exc:
            problems += exc.problems
    if problems:
        raise InvalidInput(problems)
    assert spec is not None and holder_id is not None and text is not None
    return _Request(spec.name, holder_id, wanted, text, day)


def _current(row: LicenceRecord | None) -> LicenceRecord | None:
    """Follow superseded_by to the version in force: a grant for a licence covers its later versions."""
    seen: set[str] = set()
    while row is not None and row.superseded_by and row.identifier not in seen:
        seen.add(row.identifier)
        row = find_licence(row.superseded_by)
    return row


def _holders_licence(kind: str, holder: str) -> LicenceRecord | None:
    """The holder's licence of ``kind`` in force: not superseded; a valid one before a suspended or
    revoked one, then the newest."""
    current = [r for r in holder_store.licences_of(holder) if r.kind == kind and r.status != "superseded" and not r.superseded_by]
    valid = [r for r in current if r.status == "valid"]
    return (valid or current)[0] if current else None


def _authorise_by_grant(
    code: object, principal: Principal, req: _Request, *, client: str | None, now: datetime
) -> tuple[LicenceRecord, str] | LicenceError:
    """The licence the holder's grant covers (its current version) and the grant id, or the
    refusal (recorded in the caller's transaction, for it to raise after committing): unknown or
    forged code → NotFound, expired or revoked → Gone, another department's → NotAuthorised (all
    from the shares service); a grant for another holder or kind → NotAuthorised.
    """
    if not isinstance(code, str):
        raise InvalidInput.single("grant", "must be a string: the holder's share code or the text of its QR")
    try:
        parsed = shares.parse_share_code(code)
    except InvalidInput as exc:
        raise InvalidInput([FieldProblem("grant", p.reason) for p in exc.problems]) from exc
    grant = shares.present(parsed, principal, client=client, now=now)
    if isinstance(grant, LicenceError):
        return grant
    row = _current(find_licence(grant.licence))
    if row is None or row.kind != req.kind or not grant.allows("verify") or not holder_store.is_holder(row.identifier, req.holder):
        audit.record("check", actor=principal.actor, outcome="forbidden", client=client, detail=f"grant {grant.grant_id} does not cover this holder's {req.kind}", now=now)
        return NotAuthorised(GRANT_MISMATCH)
    return row, grant.grant_id


def check(
    platform: Platform,
    principal: Principal,
    *,
    kind: object,
    holder: object,
    claims: object,
    purpose: object,
    grant: object = None,
    on: object = None,
    client: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check ``claims`` against ``holder``'s licence of ``kind``; the signed answer (see the module doc).

    ``on`` (default: today, Beijing time) is the date ``valid`` and ``vehicle_class`` are asked for.
    Raises NotAuthorised (no check scope on the token; no grant and no check scope for the kind;
    a grant for another holder or kind), InvalidInput (naming kind, holder, purpose, on, grant,
    claims.<field>), NotFound / Gone (the share code), RateLimited.
    """
    principal.require_scope("check", client=client)
    now = now or utcnow()
    req = _parse(kind, holder, claims, purpose, on)
    with transaction():  # one use case; a refusal is committed with its records, then raised
        answer = _check(platform, principal, req, grant, client=client, now=now)
    if isinstance(answer, LicenceError):
        raise answer
    return answer


def _check(
    platform: Platform, principal: Principal, req: _Request, grant: object, *, client: str | None, now: datetime
) -> dict[str, Any] | LicenceError:
    """The signed answer, recorded, or the refusal, recorded: in the caller's transaction."""
    day = req.on or now.astimezone(CHINA).date()
    dept = principal.department

    limit = platform.settings.check_rate_per_minute
    if usage.count_recent(dept, "check", now - RATE_WINDOW) >= limit:
        audit.record("check", actor=principal.actor, outcome="rate-limited", client=client, detail=f"more than {limit} checks a minute", now=now)
        return RateLimited(f"at most {limit} checks a minute per department; try again shortly")

    row: LicenceRecord | None
    grant_id: str | None = None
    if grant is not None:
        authorised = _authorise_by_grant(grant, principal, req, client=client, now=now)
        if isinstance(authorised, LicenceError):
            return authorised
        row, grant_id = authorised
    elif store.has_scope(dept, req.kind):
        row = _holders_licence(req.kind, req.holder)
    else:
        audit.record("check", actor=principal.actor, outcome="forbidden", client=client, detail=f"kind {req.kind}: no grant and no check scope", now=now)
        return NotAuthorised(REFUSED)

    if row is None:
        exists, valid, fields = False, False, fieldcheck.no_match(req.kind, req.claims)
    else:
        data = json.loads(row.data_json)
        exists = True
        valid = row.status == "valid" and fieldcheck.valid_on(req.kind, data, day)
        fields = fieldcheck.match(req.kind, data, req.claims, req.holder, day)
    answer: dict[str, Any] = {
        "type": DOC_TYPE,
        "check_id": secrets.token_hex(16),
        "kind": req.kind,
        "holder": mask_number(req.holder),
        "on": day.isoformat(),
        "licence_exists": exists,
        "valid": valid,
        "fields": fields,
        "purpose": req.purpose,
        "department": dept,
        "checked_at": now.isoformat(),
        "authorised_by": "grant" if grant_id else "department_scope",
        "grant": grant_id,
    }
    root = platform.root_credentials()
    answer["signature"] = sign_document(answer, root.key, root.cert)  # type: ignore[arg-type]

    identifier = row.identifier if row is not None else None
    outcome = "ok" if exists else "no-licence"
    usage.write(
        [usage.event(identifier or NO_LICENCE, "check", organisation=dept, purpose=req.purpose, grant=grant_id, authorised=grant_id is not None, outcome=outcome, now=now)],
        [
            audit.event(
                "check",
                actor=principal.actor,
                outcome=outcome,
                licence=identifier,
                client=client,
                detail=f"check {answer['check_id']} {req.kind} by {answer['authorised_by']}; fields {','.join(sorted(fields))}"[:200],
                now=now,
            )
        ],
    )
    return answer


# ---- check scopes: checks a department may run without the holder's grant ---------------------


def _department(code: str) -> str:
    code = code.strip().upper()
    if not department_exists(code):
        raise InvalidInput.single("department", f"no department with code {code}")
    return code


def grant_check_scope(department: str, kind: str, *, actor: str = "cli") -> bool:
    """Let ``department`` check ``kind`` without the holder's grant (each such check is reported to
    the holder). False when it already could. Raises InvalidInput (department, kind)."""
    code = _department(department)
    spec = get_kind(kind.strip())
    with transaction():
        added = store.add_scope(code, spec.name, utcnow())
        audit.record("check_scope_grant", actor=actor, outcome="ok" if added else "unchanged", detail=f"{code} {spec.name}")
    return added


def revoke_check_scope(department: str, kind: str, *, actor: str = "cli") -> None:
    """Raises NotFound when the department had no such scope."""
    code = department.strip().upper()
    name = kind.strip()
    with transaction():
        if not store.remove_scope(code, name):
            raise NotFound(f"department {code} has no check scope for {name}")
        audit.record("check_scope_revoke", actor=actor, outcome="ok", detail=f"{code} {name}")


def list_check_scopes(department: str | None = None) -> list[dict[str, Any]]:
    return [
        {
            "department": r.department,
            "kind": r.kind,
            "kind_label": KINDS[r.kind].label if r.kind in KINDS else r.kind,
            "created_at": r.created_at.isoformat(),
        }
        for r in store.scopes(department.strip().upper() if department else None)
    ]

