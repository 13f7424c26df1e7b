"""Authorised sharing (统一受理、平台授权): a holder lets a service window verify, fetch or download
one licence, for a stated purpose and a limited time, instead of handing over a photocopy.

The share code is the only secret: 50 random bits shown once to the holder (as text and as a QR),
of which only the SHA-256 is stored. Guessing is throttled per department. Every grant, revocation,
redemption and refused attempt is written to the holder's usage log and to the audit trail, in the
same transaction as the change it records.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from ..core.kinds import KINDS
from ..core.masking import mask_number
from ..core.signeddoc import sign_document
from ..core.verify import VERDICT_LABELS
from ..errors import FieldProblem, Gone, InvalidInput, NotAuthorised, NotFound, RateLimited, Unavailable
from ..storage import holders
from ..storage import shares as store
from ..storage.licences import find_licence, get_licence
from . import audit, throttle, usage
from .claim_codes import ALPHABET, _READ_AS
from .holders import actor_of
from .platform import Platform, as_utc, utcnow
from .tokens import Principal
from .usage import MAX_PURPOSE
from .online import REGISTER
from .verifying import check_qr_with

log = logging.getLogger(__name__)

SCOPES = ("verify", "data", "pdf")  # each includes the ones before it
SCOPE_LABELS = {"verify": "仅核验真伪与状态", "data": "核验并获取证照数据", "pdf": "核验、获取数据并下载加注件"}
STATE_LABELS = {"active": "有效", "expired": "已过期", "revoked": "已撤销"}
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


@dataclass(frozen=True)
class Grant:
    grant_id: str
    licence: str  # licence identifier
    kind: str
    holder: str  # the holder who created it (full id; never shown to a window)
    recipient: str | None  # department code, or None = any window
    recipient_name: str | None
    purpose: str
    scope: str  # verify / data / pdf
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    bound_to: str | None  # department that first redeemed an any-window grant
    state: str  # "active", "expired", "revoked"

    def allows(self, scope: str) -> bool:
        """Whether the grant is active and its scope covers ``scope`` (pdf covers data covers verify)."""
        return self.state == "active" and scope in SCOPES and SCOPES.index(self.scope) >= SCOPES.index(scope)

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe, without the holder's id: what a window and the holder's pages may see."""
        return {
            "grant_id": self.grant_id,
            "licence": self.licence,
            "kind": self.kind,
            "kind_label": KINDS[self.kind].label if self.kind in KINDS else self.kind,
            "recipient": self.recipient,
            "recipient_name": self.recipient_name,
            "purpose": self.purpose,
            "scope": self.scope,
            "scope_label": SCOPE_LABELS.get(self.scope, self.scope),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "bound_to": self.bound_to,
            "state": self.state,
            "state_label": STATE_LABELS[self.state],
        }


def _grant(row: Any, now: datetime) -> Grant:
    expires_at = as_utc(row.expires_at)
    revoked_at = as_utc(row.revoked_at) if row.revoked_at else None
    state = "revoked" if revoked_at is not None else ("expired" if expires_at <= now else "active")
    return Grant(
        grant_id=row.grant_id,
        licence=row.licence,
        kind=row.kind,
        holder=row.holder,
        recipient=row.recipient,
        recipient_name=row.recipient_name,
        purpose=row.purpose,
        scope=row.scope,
        created_at=as_utc(row.created_at),
        expires_at=expires_at,
        revoked_at=revoked_at,
        bound_to=row.bound_to,
        state=state,
    )


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
    raw = "".join(c for c in text.upper() if c not in "- \t").translate(_READ_AS)
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
    recipient: str | None = None,
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
    recipient_name = None
    if isinstance(recipient, str) and recipient.strip():
        recipient = recipient.strip().upper()
        recipient_name = store.department_name(recipient) if len(recipient) == 18 else None
        if recipient_name is None:
            problems.append(FieldProblem("recipient", "no department with this code; leave empty for any service window"))
    elif recipient is not None and not isinstance(recipient, str):
        problems.append(FieldProblem("recipient", "a department code, or empty for any service window"))
    else:
        recipient = None
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
    grant_id = secrets.token_hex(8)
    fields = {
        "grant_id": grant_id,
        "code_hash": code_hash(code),
        "licence": licence,
        "holder": holder,
        "recipient": recipient,
        "purpose": purpose,
        "scope": scope,
        "created_at": now,
        "expires_at": now + validity,
        "revoked_at": None,
        "bound_to": None,
    }
    store.add_grant(
        fields,
        usage=usage.event(licence, "share", organisation=recipient, organisation_name=recipient_name, purpose=purpose, grant=grant_id, now=now),
        audit=audit.event(
            "share",
            actor=actor_of(holder),
            outcome="ok",
            licence=licence,
            detail=f"grant {grant_id} scope {scope} for {recipient or 'any window'} until {(now + validity).isoformat()}",
            now=now,
        ),
    )
    grant = Grant(
        grant_id=grant_id,
        licence=licence,
        kind=row.kind,
        holder=holder,
        recipient=recipient,
        recipient_name=recipient_name,
        purpose=purpose,
        scope=scope,
        created_at=now,
        expires_at=now + validity,
        revoked_at=None,
        bound_to=None,
        state="active",
    )
    return grant, code


def revoke_grant(*, holder: str, grant_id: str, now: datetime | None = None) -> Grant:
    """Revoke one of ``holder``'s grants at once (redeeming it then gets 410). Revoking twice is
    harmless. Another holder's grant, or an unknown id, is NotFound. Records usage "unshare"."""
    now = as_utc(now or utcnow())
    row = store.grant_by_id(grant_id) if isinstance(grant_id, str) else None
    if row is None or row.holder != holder:
        raise NotFound("no such grant among yours")
    revoked = store.revoke_grant(
        grant_id,
        holder,
        now,
        usage=usage.event(row.licence, "unshare", organisation=row.recipient or row.bound_to, purpose=row.purpose, grant=grant_id, now=now),
        audit=audit.event("unshare", actor=actor_of(holder), outcome="ok", licence=row.licence, detail=f"grant {grant_id}", now=now),
    )
    grant = _grant(row, now)
    return replace(grant, revoked_at=now, state="revoked") if revoked else grant


def grants_of(holder: str, licence: str | None = None) -> list[Grant]:
    """The holder's grants (of one licence, or all), newest first."""
    now = utcnow()
    return [_grant(r, now) for r in store.grants_of(holder, licence)]


# ---- the window's side -----------------------------------------------------------------------


def _failure_key(department: str) -> str:
    return f"share:{department}"


def _refuse(grant: Grant, principal: Principal, now: datetime, client: str | None, *, outcome: str, why: str) -> None:
    """Tell the holder (usage log) and the audit trail that a window tried a grant and was turned away."""
    usage.write(
        [usage.event(grant.licence, "redeem", organisation=principal.department, purpose=grant.purpose, grant=grant.grant_id, authorised=False, outcome=outcome, now=now)],
        [audit.event("redeem", actor=principal.actor, outcome=outcome, licence=grant.licence, client=client, detail=f"grant {grant.grant_id}: {why}", now=now)],
    )


def find_active_grant(code: str, principal: Principal, *, client: str | None = None, now: datetime | None = None) -> Grant:
    """The grant behind a share code, for this department: unknown/forged code → NotFound (and
    counted for rate limiting), expired or revoked → Gone (410), for another department (or an
    any-window grant already bound to another) → NotAuthorised (audited, reported to the holder).
    Binds an any-window grant to the first department that uses it."""
    now = as_utc(now or utcnow())
    key = _failure_key(principal.department)
    if throttle.throttled(key, window=FAILURE_WINDOW, limit=MAX_FAILURES, now=now):
        audit.record("redeem", actor=principal.actor, outcome="rate-limited", client=client, detail="too many unknown share codes")
        raise RateLimited("too many unknown share codes from this department; try again later")
    canonical = parse_share_code(code)
    row = store.grant_by_hash(code_hash(canonical))
    if row is None:
        throttle.count_failure(key, now)
        audit.record("redeem", actor=principal.actor, outcome="not-found", client=client, detail="unknown share code")
        raise NotFound("no grant with this share code")
    grant = _grant(row, now)
    if grant.state != "active":
        _refuse(grant, principal, now, client, outcome=grant.state, why=f"grant {grant.state}")
        raise Gone(f"this grant has {'been revoked by the holder' if grant.state == 'revoked' else 'expired'}")
    if grant.recipient is not None and grant.recipient != principal.department:
        _refuse(grant, principal, now, client, outcome="refused", why="grant is for another department")
        raise NotAuthorised("this grant is for another department")
    if grant.recipient is None:
        bound = store.bind_grant(grant.grant_id, principal.department)
        if bound != principal.department:
            _refuse(grant, principal, now, client, outcome="refused", why="grant already used by another window")
            raise NotAuthorised("this grant has already been used by another service window")
        grant = replace(grant, bound_to=bound)
    return grant


def copy_key(redemption_id: str) -> str:
    """Where the annotated copy of a redemption lives in the PDF store."""
    return f"copies/{redemption_id[:2]}/{redemption_id}.pdf"


def copy_url(redemption_id: str) -> str:
    return f"/api/v1/shares/redemptions/{redemption_id}/pdf"


def redeem(platform: Platform, principal: Principal, code: str, *, client: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """What the grant behind ``code`` allows this department: the licence's verification from the
    register; its data (scope data or pdf); an annotated copy (加注件, scope pdf, only while the
    licence is in force); and a receipt signed by the platform root. Errors as find_active_grant."""
    now = as_utc(now or utcnow())
    grant = find_active_grant(code, principal, client=client, now=now)
    row = get_licence(grant.licence)
    report = check_qr_with(row.qr_text, platform.trust_store(), REGISTER, now=now)
    seen = report.licence or {}
    licence = {
        "identifier": row.identifier,
        "kind": row.kind,
        "kind_label": KINDS[row.kind].label,
        "version": row.version,
        "status": row.status,
        "valid": report.valid,
        "verdict": report.verdict,
        "verdict_label": VERDICT_LABELS[report.verdict],
        "issuer": seen.get("issuer") or {"code": row.issuer_id, "name": store.department_name(row.issuer_id)},
        "holder": seen.get("holder", ""),
        "holder_id": seen.get("holder_id") or mask_number(row.holder),
        "issued_at": as_utc(row.issued_at).isoformat(),
        "expires_at": as_utc(row.expires_at).isoformat() if row.expires_at else None,
        "superseded_by": row.superseded_by,  # a grant names one version; the window learns of a newer one
    }
    department = {"code": principal.department, "name": store.department_name(principal.department)}
    redemption_id = secrets.token_hex(12)
    copy_sha256 = None
    if grant.allows("pdf") and report.valid:
        from .copies import annotated_copy

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
        platform.pdfs.put(copy_key(redemption_id), pdf)
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
    stored = store.add_redemption(
        {
            "redemption_id": redemption_id,
            "grant": grant.grant_id,
            "department": principal.department,
            "at": now,
            "receipt": json.dumps(receipt),
            "copy_sha256": copy_sha256,
        },
        usage=usage.event(grant.licence, "redeem", organisation=principal.department, organisation_name=department["name"], purpose=grant.purpose, grant=grant.grant_id, now=now),
        audit=audit.event(
            "redeem", actor=principal.actor, outcome="ok", licence=grant.licence, client=client, detail=f"grant {grant.grant_id} scope {grant.scope}", now=now
        ),
    )
    if not stored:  # the holder revoked the grant while we were preparing the answer
        if copy_sha256:
            platform.pdfs.delete(copy_key(redemption_id))
        raise Gone("this grant has been revoked by the holder")
    audit.maybe_checkpoint(platform)
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
    grant = _grant(store.grant_by_id(row.grant_id), now)
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
