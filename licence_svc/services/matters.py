"""Service matters (事项): loading the catalogue, and telling a window which materials the
applicant's shared e-licences satisfy, so those need no paper.

A material counts as satisfied only through a share grant the holder gave this window: the answer
depends on the grants supplied and never on what else the register holds, so a window cannot learn
that a holder has a licence they did not share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core import matters as catalogue_format
from ..core.checkdigits import credit_code_problem, id_number_problem
from ..core.kinds import KINDS
from ..core.masking import mask_number
from ..core.matters import CODE_PATTERN, Material, Matter
from ..errors import FieldProblem, InvalidInput, LicenceError, NotAuthorised, NotFound
from ..storage import audit as trail
from ..storage import holders
from ..storage import matters as store
from ..storage.db import transaction
from . import audit, shares, usage
from .grants import Grant
from .holders import status_now
from .platform import utcnow
from .tokens import Principal

MAX_GRANTS = 20  # share codes per request: one per licence, far more than any matter lists
ACTION = "materials"  # the usage log's action: a window checked a shared licence for a matter's materials

PAPER_ONLY = "需提交纸质材料"
NOT_SHARED = "需持证人授权，或提交纸质材料"
SATISFIED = "已凭持证人授权核验{label}电子证照，无需提交纸质材料"
NOT_VALID = "持证人授权的{label}电子证照{state}，需提交纸质材料"
STATE_TEXT = {
    "revoked": "已吊销或注销",
    "suspended": "已暂停使用",
    "superseded": "已变更，不是最新版本",
    "expired": "已过有效期",
    "missing": "无法在登记库中找到",
}


@dataclass(frozen=True)
class LoadResult:
    matters: int
    materials: int


def load_file(path: Path, *, actor: str) -> LoadResult:
    """Replace the catalogue with the one in ``path`` (JSON, or YAML for .yaml/.yml); InvalidInput
    lists every problem and leaves the old catalogue in place."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise InvalidInput.single("file", f"file {path} not found") from exc
    except OSError as exc:
        raise InvalidInput.single("file", f"cannot read {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput.single("file", f"not UTF-8: {exc}") from exc
    return load(text, fmt=catalogue_format.format_of(path.name), actor=actor)


def load(text: str, *, fmt: str = "json", actor: str) -> LoadResult:
    """Validate a catalogue and make it the only one, atomically."""
    matters = catalogue_format.parse_text(text, fmt=fmt)
    now = utcnow()
    rows = [
        {"code": m.code, "name": m.name, "department": m.department, "materials_json": m.materials_json(), "updated_at": now}
        for m in matters
    ]
    result = LoadResult(matters=len(matters), materials=sum(len(m.materials) for m in matters))
    detail = f"{result.matters} matters, {result.materials} materials"
    with transaction():  # a window never sees half of an old and half of a new catalogue
        store.replace_catalogue(rows)
        trail.append(**audit.event("matters_load", actor=actor, outcome="ok", detail=detail, now=now))
    return result


def catalogue() -> list[Matter]:
    return [catalogue_format.from_stored(r.code, r.name, r.department, r.materials_json) for r in store.all_matters()]


def get_matter(code: str) -> Matter:
    # Only a well-formed code reaches the database (PostgreSQL refuses a NUL in a literal with an error).
    row = store.find_matter(code) if isinstance(code, str) and re.fullmatch(CODE_PATTERN, code) else None
    if row is None:
        raise NotFound(f"no service matter {code}")
    return catalogue_format.from_stored(row.code, row.name, row.department, row.materials_json)


def normalise_holder(value: object) -> str:
    """An ID number or a credit code, upper-cased; InvalidInput("holder") otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput.single("holder", "missing: the applicant's ID number or unified social credit code")
    text = value.strip().upper()
    if id_number_problem(text) is None or credit_code_problem(text) is None:
        return text
    reason = id_number_problem(text) if text[:17].isdigit() else credit_code_problem(text)
    raise InvalidInput.single("holder", f"not a valid ID number or unified social credit code: {reason}")


def _share_codes(grants: list[str]) -> list[str]:
    if len(grants) > MAX_GRANTS:
        raise InvalidInput.single("grant", f"at most {MAX_GRANTS} share codes")
    codes: list[str] = []
    problems: list[FieldProblem] = []
    for n, text in enumerate(grants, 1):
        try:
            code = shares.parse_share_code(text)
        except InvalidInput as exc:
            problems += [FieldProblem("grant", f"share code {n}: {p.reason}") for p in exc.problems]
            continue
        if code not in codes:
            codes.append(code)
    if problems:
        raise InvalidInput(problems)
    return codes


def _state(row: tuple[str, str, datetime | None] | None, now: datetime) -> str:
    """``valid`` for a licence in force today, else why not."""
    if row is None:
        return "missing"
    _kind, status, expires_at = row
    return status_now(status, expires_at, now)


def _representatives(holder: str, now: datetime) -> set[str]:
    """Legal representatives of ``holder`` as a company: the other holders of its business licences in force."""
    out: set[str] = set()
    for lic in holders.licences_of(holder):
        if KINDS[lic.kind].names_representatives and _state((lic.kind, lic.status, lic.expires_at), now) == "valid":
            out |= set(holders.holders_of(lic.identifier)) - {holder}
    return out


def materials(
    principal: Principal,
    code: str,
    *,
    holder: object,
    grants: list[str],
    client: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Which of matter ``code``'s materials the applicant ``holder`` needs no paper for.

    Requires the ``redeem`` scope (a service window). Each share code in ``grants`` must be an active
    grant for this department (NotFound: unknown or forged; Gone: expired or revoked; NotAuthorised:
    another department's) covering a licence that belongs to ``holder`` (or, for a material of the
    legal representative, to the representative of the company ``holder``): otherwise NotAuthorised.
    A material is satisfied when a grant covers a licence of its kind that is valid now. Every licence
    looked at is written to its holders' usage log and to the audit trail.
    Raises InvalidInput (holder, grant), NotFound (matter).
    """
    principal.require_scope("redeem", client=client)
    holder_id = normalise_holder(holder)
    codes = _share_codes(grants)
    matter = get_matter(code)
    now = now or utcnow()
    with transaction():  # one use case; a refusal is committed with its records, then raised
        report = _materials(principal, matter, holder_id, codes, client=client, now=now)
    if isinstance(report, LicenceError):
        raise report
    return report


def _materials(
    principal: Principal, matter: Matter, holder_id: str, codes: list[str], *, client: str | None, now: datetime
) -> dict[str, Any] | LicenceError:
    """The answer, recorded, or the refusal, recorded: in the caller's transaction."""
    found: list[Grant] = []
    for share_code in codes:
        g = shares.present(share_code, principal, client=client, now=now)
        if isinstance(g, LicenceError):
            return g
        if all(g.grant_id != other.grant_id for other in found):
            found.append(g)

    # Whose licence each grant covers decides which materials it may satisfy.
    needs_rep = any(m.holder_role == "legal_representative" for m in matter.materials)
    reps = _representatives(holder_id, now) if needs_rep and found else set()
    roles: dict[str, set[str]] = {}
    for n, g in enumerate(found, 1):
        owners = set(holders.holders_of(g.licence))
        if holder_id in owners:
            roles[g.grant_id] = {"applicant", "legal_representative"}
        elif owners & reps:
            roles[g.grant_id] = {"legal_representative"}
        else:
            # The grant's holders see that their grant was presented for someone else.
            usage.write(
                [usage.event(g.licence, ACTION, organisation=principal.department, purpose=f"办理{matter.name}", grant=g.grant_id, outcome="refused", now=now)],
                [audit.event("denied", actor=principal.actor, outcome="forbidden", licence=g.licence, client=client, detail=f"matter {matter.code}: grant {g.grant_id} is for another holder", now=now)],
            )
            return NotAuthorised(f"share code {n} is for a licence of another holder, not the applicant")

    rows = store.licence_states([g.licence for g in found])
    kinds = {ident: row[0] for ident, row in rows.items()}  # the register's, not the grant's copy
    states = {ident: _state(row, now) for ident, row in rows.items()}
    used: dict[str, tuple[str, str]] = {}  # licence → (grant id, state)
    answers = []
    for m in matter.materials:
        answer = _answer(m, [g for g in found if kinds.get(g.licence) == m.kind and m.holder_role in roles[g.grant_id]], states)
        if answer["grant"] is not None:
            used.setdefault(answer["used"], (answer["grant"], states.get(answer["used"], "missing")))
        answers.append({k: v for k, v in answer.items() if k not in ("grant", "used")})

    purpose = f"办理{matter.name}"
    uses = []
    events = []
    for ident, (grant_id, state) in used.items():
        outcome = "ok" if state == "valid" else state
        uses.append(usage.event(ident, ACTION, organisation=principal.department, purpose=purpose, grant=grant_id, outcome=outcome, now=now))
        events.append(audit.event(ACTION, actor=principal.actor, outcome=outcome, licence=ident, client=client, detail=f"matter {matter.code} grant {grant_id}", now=now))
    usage.write(uses, events)

    paper = [a["name"] for a in answers if a["required"] and not a["satisfied"]]
    return {
        "matter": {"code": matter.code, "name": matter.name},
        "holder": mask_number(holder_id),
        "materials": answers,
        "paper_needed": paper,
        "all_electronic": not paper,
    }


def _answer(m: Material, candidates: list[Grant], states: dict[str, str]) -> dict[str, Any]:
    """One material's answer; ``grant``/``used`` name the grant and licence looked at (not returned)."""
    base = {"id": m.id, "name": m.name, "kind": m.kind, "kind_label": m.kind_label, "required": m.required}
    if m.kind is None:
        return {**base, "satisfied": False, "licence": None, "reason": PAPER_ONLY, "grant": None, "used": None}
    if not candidates:
        return {**base, "satisfied": False, "licence": None, "reason": NOT_SHARED, "grant": None, "used": None}
    label = KINDS[m.kind].label
    valid = [g for g in candidates if states.get(g.licence) == "valid"]
    if valid:
        g = valid[0]
        return {**base, "satisfied": True, "licence": g.licence, "reason": SATISFIED.format(label=label), "grant": g.grant_id, "used": g.licence}
    g = candidates[0]
    state = states.get(g.licence, "missing")
    return {**base, "satisfied": False, "licence": None, "reason": NOT_VALID.format(label=label, state=STATE_TEXT.get(state, "当前无效")), "grant": g.grant_id, "used": g.licence}
