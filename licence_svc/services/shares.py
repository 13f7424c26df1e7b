"""Authorised sharing (统一受理、平台授权): a holder lets a service window verify, fetch or download
one licence, for a stated purpose and a limited time, instead of handing over a photocopy.

The share code is the only secret: 50 random bits shown once to the holder (as text and as a QR),
of which only the SHA-256 is stored. Guessing is throttled per department. Every grant, revocation,
redemption and refused attempt is written to the holder's usage log and to the audit trail, in the
same transaction as the change it records. A refusal is committed with its records before its
error is raised, so the holder and the trail see every attempt that was turned away.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from ..core.kinds import KINDS
from ..core.masking import mask_number
from ..core.signeddoc import sign_document
from ..core.verify import VERDICT_LABELS
from ..errors import FieldProblem, Gone, InvalidInput, LicenceError, NotAuthorised, NotFound, RateLimited, Unavailable
from ..storage import departments, holders
from ..storage import shares as store
from ..storage.db import transaction
from ..storage.licences import LicenceRecord, find_licence, get_licence
from . import audit, throttle, usage
from .claim_codes import ALPHABET, READ_AS
from .copies import annotated_copy
from .grants import SCOPE_LABELS as SCOPE_LABELS  # re-exported: part of this service's interface
from .grants import SCOPES as SCOPES
from .grants import STATE_LABELS as STATE_LABELS
from .grants import Grant as Grant
from .grants import grant_of
from .grants import grants_of as grants_of
from .holders import actor_of
from .online import register_holding
from .platform import Platform, as_utc, utcnow
from .tokens import Principal
from .usage import MAX_PURPOSE
from .verifying import check_qr_with

log = logging.getLogger(__name__)

DEFAULT_VALIDITY = timedelta(hours=24)
MAX_VALIDITY = timedelta(days=30)
MAX_HOURS = int(MAX_VALIDITY / timedelta(hours=1))

CODE_CHARS = 10  # 50 bits: with at most MAX_FAILURES guesses per department and window, out of reach
_CODE = re.compile(rf"[{ALPHABET}]{{{CODE_CHARS}}}")
QR_PATH = "/S/"
MAX_CODE_TEXT = 300  # the bare code or the QR link; anything longer is not one of ours

# Unknown share codes a department may present per window before it is throttled.
FAILURE_WINDOW = timedelta(minutes=5)
MAX_FAILURES = 20

_REDEMPTION_ID = re.compile(r"[0-9a-f]{24}")


# ---- the code ------------------------------------------------------------------------------


def new_code() -> str:
    """XXXXX-XXXXX: short enough to read out at a counter and to type from a phone screen."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))
    return f"{raw[:5]}-{raw[5:]}"


def code_hash(code: str) -> str:
    """Of the canonical code; domain-separated from claim codes, which share the alphabet."""
    return hashlib.sha256(("share:" + parse_share_code(code)).encode("ascii")).hexdigest()


def share_qr_text(platform: Platform, code: str) -> str:
    """What the holder's QR encodes: a short link, so the QR stays small enough to scan off a phone."""
    return f"{platform.settings.base_url.rstrip('/')}{QR_PATH}{parse_share_code(code)}"


def parse_share_code(text: str) -> str:
    """The canonical code (XXXXX-XXXXX) in what a window typed or scanned: the bare code, in any
    case, with or without dashes and spaces, or the QR link. Raises InvalidInput("code", ...)."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_CODE_TEXT:
        raise InvalidInput.single("code", "a share code (XXXXX-XXXXX) or the link its QR encodes")
    text = text.strip()
    if QR_PATH in text:
        text = text.rsplit(QR_PATH, 1)[1].split("?", 1)[0].split("#", 1)[0].strip("/")
    raw = "".join(c for c in text.upper() if c not in "- \t").translate(READ_AS)
    if not _CODE.fullmatch(raw):
        raise InvalidInput.single("code", f"a share code is {CODE_CHARS} letters and digits (XXXXX-XXXXX)")
    return f"{raw[:5]}-{raw[5:]}"


# ---- the holder's side -----------------------------------------------------------------------


def create_grant(
    platform: Platform,
    *,
    holder: str,
    licence: str,
    purpose: str,
    scope: str,
    recipient: object = None,
    hours: int | None = None,
    now: datetime | None = None,
) -> tuple[Grant, str]:
    """(grant, share code). The code is shown once (only its hash is stored). Raises InvalidInput
    (field names: licence, purpose, scope, recipient, hours), NotFound when ``holder`` does not hold
    ``licence`` (indistinguishable from a non-existent licence). Records usage "share"."""
    now = as_utc(now or utcnow())
    if not isinstance(licence, str) or not holders.is_holder(licence, holder):
        raise NotFound("no such licence among yours")
    problems: list[FieldProblem] = []
    purpose = purpose.strip() if isinstance(purpose, str) else ""
    if not purpose:
        problems.append(FieldProblem("purpose", "required: the purpose (申请事由) the licence is shared for"))
    elif len(purpose) > MAX_PURPOSE:
        problems.append(FieldProblem("purpose", f"at most {MAX_PURPOSE} characters"))
    elif not purpose.isprintable():
        problems.append(FieldProblem("purpose", "one line of printable text"))
    if scope not in SCOPES:
        problems.append(FieldProblem("scope", f"one of {', '.join(SCOPES)}"))
    if hours is None:
        validity = DEFAULT_VALIDITY
    elif isinstance(hours, bool) or not isinstance(hours, int) or not 1 <= hours <= MAX_HOURS:
        problems.append(FieldProblem("hours", f"a whole number of hours from 1 to {MAX_HOURS} (30 days)"))
        validity = DEFAULT_VALIDITY
    else:
        validity = timedelta(hours=hours)
    recipient_code: str | None = None  # None: any window
    recipient_name = None
    if isinstance(recipient, str) and recipient.strip():
        recipient_code = recipient.strip().upper()
        recipient_name = departments.department_name(recipient_code) if len(recipient_code) == 18 else None
        if recipient_name is None:
            problems.append(FieldProblem("recipient", "no department with this code; leave empty for any service window"))
    elif recipient is not None and not isinstance(recipient, str):
        problems.append(FieldProblem("recipient", "a department code, or empty for any service window"))
    row = find_licence(licence)
    if row is None:  # indexed but gone: treat as unknown
        raise NotFound("no such licence among yours")
    if row.status == "superseded":
        problems.append(FieldProblem("licence", "superseded by a newer version: share the current one"))
    elif row.status == "revoked":
        problems.append(FieldProblem("licence", "revoked: a licence no longer in force cannot be shared"))
    if problems:
        raise InvalidInput(problems)
    code = new_code()
    grant = Grant(
        grant_id=secrets.token_hex(8),
        licence=licence,
        kind=row.kind,
        holder=holder,
        recipient=recipient_code,
        recipient_name=recipient_name,
        purpose=purpose,
        scope=scope,
        created_at=now,
        expires_at=now + validity,
        revoked_at=None,
        bound_to=None,
        state="active",
    )
    with transaction():
        store.add_grant(
            grant_id=grant.grant_id,
            code_hash=code_hash(code),
            licence=licence,
            holder=holder,
            recipient=recipient_code,
            purpose=purpose,
            scope=scope,
            created_at=now,
            expires_at=grant.expires_at,
        )
        usage.write(
            [usage.event(licence, "share", organisation=recipient_code, organisation_name=recipient_name, purpose=purpose, grant=grant.grant_id, now=now)],
            [
                audit.event(
                    "share",
                    actor=actor_of(holder),
                    outcome="ok",
                    licence=licence,
                    detail=f"grant {grant.grant_id} scope {scope} for {recipient_code or 'any window'} until {grant.expires_at.isoformat()}",
                    now=now,
                )
            ],
        )
    return grant, code


def revoke_grant(*, holder: str, grant_id: str, now: datetime | None = None) -> Grant:
    """Revoke one of ``holder``'s grants at once (redeeming it then gets 410). Revoking twice is
    harmless. Another holder's grant, or an unknown id, is NotFound. Records usage "unshare"."""
    now = as_utc(now or utcnow())
    with transaction():
        rec = store.grant_by_id(grant_id) if isinstance(grant_id, str) else None
        if rec is None or rec.holder != holder:
            raise NotFound("no such grant among yours")
        revoked = store.revoke_grant(grant_id, holder, now)
        if revoked:
            usage.write(
                [usage.event(rec.licence, "unshare", organisation=rec.recipient or rec.bound_to, purpose=rec.purpose, grant=grant_id, now=now)],
                [audit.event("unshare", actor=actor_of(holder), outcome="ok", licence=rec.licence, detail=f"grant {grant_id}", now=now)],
            )
    grant = grant_of(rec, now)
    return replace(grant, revoked_at=now, state="revoked") if revoked else grant


# ---- the window's side -----------------------------------------------------------------------


def _failure_key(department: str) -> str:
    return f"share:{department}"


def _refuse(grant: Grant, principal: Principal, now: datetime, client: str | None, *, outcome: str, why: str) -> None:
    """Tell the holder (usage log) and the audit trail that a window tried a grant and was turned away."""
    usage.write(
        [usage.event(grant.licence, "redeem", organisation=principal.department, purpose=grant.purpose, grant=grant.grant_id, authorised=False, outcome=outcome, now=now)],
        [audit.event("redeem", actor=principal.actor, outcome=outcome, licence=grant.licence, client=client, detail=f"grant {grant.grant_id}: {why}", now=now)],
    )


def present(code: str, principal: Principal, *, client: str | None = None, now: datetime) -> Grant | LicenceError:
    """A window presents a share code, in the caller's transaction: the active grant behind it for
    this department (an any-window grant is bound to the first department that uses it), or the
    refusal, already recorded, for the caller to raise once its transaction has committed:
    RateLimited (too many unknown codes), NotFound (unknown or forged code, counted for the rate
    limit), Gone (expired or revoked), NotAuthorised (another department's grant, or an any-window
    grant bound to another; audited and reported to the holder). Raises InvalidInput for what
    cannot be a share code (nothing recorded)."""
    key = _failure_key(principal.department)
    if throttle.throttled(key, window=FAILURE_WINDOW, limit=MAX_FAILURES, now=now):
        audit.record("redeem", actor=principal.actor, outcome="rate-limited", client=client, detail="too many unknown share codes")
        return RateLimited("too many unknown share codes from this department; try again later")
    canonical = parse_share_code(code)
    rec = store.grant_by_hash(code_hash(canonical))
    if rec is None:
        throttle.count_failure(key, now)
        audit.record("redeem", actor=principal.actor, outcome="not-found", client=client, detail="unknown share code")
        return NotFound("no grant with this share code")
    grant = grant_of(rec, now)
    if grant.state != "active":
        _refuse(grant, principal, now, client, outcome=grant.state, why=f"grant {grant.state}")
        return Gone(f"this grant has {'been revoked by the holder' if grant.state == 'revoked' else 'expired'}")
    if grant.recipient is not None and grant.recipient != principal.department:
        _refuse(grant, principal, now, client, outcome="refused", why="grant is for another department")
        return NotAuthorised("this grant is for another department")
    if grant.recipient is None:
        bound = store.bind_grant(grant.grant_id, principal.department)
        if bound != principal.department:
            _refuse(grant, principal, now, client, outcome="refused", why="grant already used by another window")
            return NotAuthorised("this grant has already been used by another service window")
        grant = replace(grant, bound_to=bound)
    return grant


def find_active_grant(code: str, principal: Principal, *, client: str | None = None, now: datetime | None = None) -> Grant:
    """The grant behind a share code, for this department, in a transaction of its own (see
    ``present``); a refusal is raised after its records are committed."""
    now = as_utc(now or utcnow())
    with transaction():
        found = present(code, principal, client=client, now=now)
    if isinstance(found, LicenceError):
        raise found
    return found


def copy_key(redemption_id: str) -> str:
    """Where the annotated copy of a redemption lives in the PDF store."""
    return f"copies/{redemption_id[:2]}/{redemption_id}.pdf"


def copy_url(redemption_id: str) -> str:
    return f"/api/v1/shares/redemptions/{redemption_id}/pdf"


def redeem(platform: Platform, principal: Principal, code: str, *, client: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """What the grant behind ``code`` allows this department: the licence's verification from the
    register; its data (scope data or pdf); an annotated copy (加注件, scope pdf, only while the
    licence is in force); and a receipt signed by the platform root. Errors as ``present``, and
    Gone when the holder revoked the grant while the answer was being prepared.

    Two short transactions, none held while the copy is rendered and signed: the code presented
    (bound, or the refusal recorded), then the redemption with its usage and audit events."""
    now = as_utc(now or utcnow())
    grant = find_active_grant(code, principal, client=client, now=now)
    row = get_licence(grant.licence)  # the one read of the licence: verified, copied and answered from it
    report = check_qr_with(row.qr_text, platform.trust_store(), register_holding(row), now=now)
    seen = report.licence or {}
    department = {"code": principal.department, "name": departments.department_name(principal.department)}
    licence = {
        "identifier": row.identifier,
        "kind": row.kind,
        "kind_label": KINDS[row.kind].label,
        "version": row.version,
        "status": row.status,
        "valid": report.valid,
        "verdict": report.verdict,
        "verdict_label": VERDICT_LABELS[report.verdict],
        "issuer": seen.get("issuer") or {"code": row.issuer, "name": departments.department_name(row.issuer)},
        "holder": seen.get("holder", ""),
        "holder_id": seen.get("holder_id") or mask_number(row.holder),
        "issued_at": as_utc(row.issued_at).isoformat(),
        "expires_at": as_utc(row.expires_at).isoformat() if row.expires_at else None,
        "superseded_by": row.superseded_by,  # a grant names one version; the window learns of a newer one
    }
    redemption_id = secrets.token_hex(12)
    copy_sha256 = None
    if grant.allows("pdf") and report.valid:
        pdf = annotated_copy(
            platform,
            licence=grant.licence,
            row=row,
            grant_id=grant.grant_id,
            redemption_id=redemption_id,
            recipient_code=principal.department,
            recipient_name=department["name"] or principal.department,
            purpose=grant.purpose,
            expires_at=grant.expires_at,
            now=now,
        )
        platform.pdfs.put(copy_key(redemption_id), pdf)  # before the record that names it commits
        copy_sha256 = hashlib.sha256(pdf).hexdigest()
    body = {
        "type": "ShareReceipt",
        "licence": grant.licence,
        "verdict": report.verdict,
        "grant": grant.grant_id,
        "redemption": redemption_id,
        "department": department,
        "purpose": grant.purpose,
        "scope": grant.scope,
        "redeemed_at": now.isoformat(),
        "grant_expires_at": grant.expires_at.isoformat(),
        "copy_sha256": copy_sha256,
    }
    root = platform.root_credentials()
    receipt = sign_document(body, root.key, root.cert)  # type: ignore[arg-type]
    with transaction():
        stored = store.add_redemption(
            redemption_id=redemption_id,
            grant=grant.grant_id,
            department=principal.department,
            at=now,
            receipt=json.dumps(receipt),
            copy_sha256=copy_sha256,
        )
        if stored:
            usage.write(
                [usage.event(grant.licence, "redeem", organisation=principal.department, organisation_name=department["name"], purpose=grant.purpose, grant=grant.grant_id, now=now)],
                [audit.event("redeem", actor=principal.actor, outcome="ok", licence=grant.licence, client=client, detail=f"grant {grant.grant_id} scope {grant.scope}", now=now)],
            )
    if not stored:  # the holder revoked the grant while we were preparing the answer
        if copy_sha256:
            platform.pdfs.delete(copy_key(redemption_id))
        raise Gone("this grant has been revoked by the holder")
    out: dict[str, Any] = {"grant": grant.as_dict(), "redemption_id": redemption_id, "licence": licence}
    if grant.allows("data"):
        out["data"] = json.loads(row.data_json)
    if copy_sha256:
        out["pdf_url"] = copy_url(redemption_id)
    out["receipt"] = receipt
    return out


def redemption_copy(platform: Platform, principal: Principal, redemption_id: str, *, client: str | None = None, now: datetime | None = None) -> bytes:
    """The annotated copy handed out at a redemption: only to the department that redeemed, only
    while the grant is active and allows the PDF. Every download is logged for the holder."""
    now = as_utc(now or utcnow())
    row = store.redemption(redemption_id) if _REDEMPTION_ID.fullmatch(redemption_id or "") else None
    if row is None:
        raise NotFound("no such redemption")
    if row.department != principal.department:
        audit.record("denied", actor=principal.actor, outcome="forbidden", client=client, detail=f"redemption {redemption_id} of another department")
        raise NotAuthorised("this redemption belongs to another department")
    rec = store.grant_by_id(row.grant)
    if rec is None:
        raise NotFound("no such redemption")
    grant = grant_of(rec, now)
    if grant.state != "active":
        raise Gone(f"the grant has {'been revoked by the holder' if grant.state == 'revoked' else 'expired'}")
    if not grant.allows("pdf"):
        audit.record("denied", actor=principal.actor, outcome="forbidden", licence=grant.licence, client=client, detail=f"grant {grant.grant_id} scope {grant.scope}")
        raise NotAuthorised("the grant does not allow downloading the licence")
    if row.copy_sha256 is None:
        raise NotFound("no annotated copy was made: the licence was not in force when the grant was redeemed")
    try:
        pdf = platform.pdfs.get(copy_key(redemption_id))
    except OSError as exc:
        raise Unavailable("the annotated copy is unavailable") from exc
    if hashlib.sha256(pdf).hexdigest() != row.copy_sha256:
        log.error("annotated copy of redemption %s differs from its recorded digest", redemption_id)
        raise Unavailable("the annotated copy is unavailable")
    usage.write(
        [usage.event(grant.licence, "download", organisation=principal.department, purpose=grant.purpose, grant=grant.grant_id, now=now)],
        [audit.event("download", actor=principal.actor, outcome="ok", licence=grant.licence, client=client, detail=f"annotated copy, grant {grant.grant_id}", now=now)],
    )
    return pdf
