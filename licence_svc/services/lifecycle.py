"""Status changes: revoke (吊销/注销), suspend, reinstate, and new versions (变更).

Each change is recorded with who, when and why and is visible to verification at once: the
register is read on every online check and the status list is rebuilt from it.
"""

from __future__ import annotations

from datetime import datetime

from ..core.identifiers import parse_licence_id
from ..core.revocation import CATEGORIES
from ..errors import Conflict, InvalidInput, NotAuthorised
from ..storage.db import transaction
from ..storage.licences import LicenceRecord, change_status, get_licence
from . import audit
from .issuing import issue
from .platform import Platform, utcnow
from .records import Issued, owned
from .tokens import Principal

MAX_REASON = 200


def _category(category: str | None) -> str | None:
    """The public category of a revocation (core.revocation.CATEGORIES), or None (shown as 吊销/注销)."""
    if category is None or (isinstance(category, str) and category in CATEGORIES):
        return category
    raise InvalidInput.single("category", f"one of {', '.join(CATEGORIES)}")


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput.single("reason", "required")
    if len(reason) > MAX_REASON:
        raise InvalidInput.single("reason", f"longer than {MAX_REASON} characters")
    return reason


def _target(identifier: str, principal: Principal | None, department: str | None, client: str | None) -> LicenceRecord:
    """The licence to change: with a ``principal`` (an API token) one its department issued, of a
    kind the token covers (refusals audited); otherwise (the operator's CLI) any licence, or one of
    ``department``'s when given."""
    if principal is not None:
        return owned(principal, identifier, client)
    parse_licence_id(identifier)
    row = get_licence(identifier)
    if department is not None and row.issuer != department:
        raise NotAuthorised("a department may change only the licences it issued")
    return row


_TRANSITIONS = {"revoke": (("valid", "suspended"), "revoked"), "suspend": (("valid",), "suspended"), "reinstate": (("suspended",), "valid")}


def _change(
    action: str,
    identifier: str,
    *,
    reason: str,
    actor: str,
    department: str | None,
    principal: Principal | None,
    client: str | None,
    now: datetime | None,
    category: str | None = None,
) -> LicenceRecord:
    """One status change and its audit event, in one transaction. The target is looked up (and a
    refusal audited) before it: a refusal's audit event must outlive the refusal."""
    _target(identifier, principal, department, client)
    reason = _reason(reason)
    category = _category(category)
    allowed, to = _TRANSITIONS[action]
    now = now or utcnow()
    with transaction():
        changed = change_status(identifier, allowed_from=allowed, to=to, actor=actor, reason=reason, at=now, category=category)
        audit.record(action, actor=actor, outcome="ok", licence=identifier, client=client, now=now)
    return changed


def revoke(
    identifier: str,
    *,
    reason: str,
    actor: str,
    category: str | None = None,
    department: str | None = None,
    principal: Principal | None = None,
    client: str | None = None,
    now: datetime | None = None,
) -> LicenceRecord:
    """吊销/注销: final. ``reason`` is the department's own words, for its records; verification
    reports show only ``category`` (core.revocation.CATEGORIES; None: 吊销/注销).
    Raises InvalidInput naming ``reason`` or ``category``, NotFound, NotAuthorised, Conflict."""
    return _change(
        "revoke", identifier, reason=reason, actor=actor, department=department, principal=principal, client=client, now=now, category=category
    )


def suspend(
    identifier: str,
    *,
    reason: str,
    actor: str,
    department: str | None = None,
    principal: Principal | None = None,
    client: str | None = None,
    now: datetime | None = None,
) -> LicenceRecord:
    return _change("suspend", identifier, reason=reason, actor=actor, department=department, principal=principal, client=client, now=now)


def reinstate(
    identifier: str,
    *,
    reason: str,
    actor: str,
    department: str | None = None,
    principal: Principal | None = None,
    client: str | None = None,
    now: datetime | None = None,
) -> LicenceRecord:
    return _change("reinstate", identifier, reason=reason, actor=actor, department=department, principal=principal, client=client, now=now)


def new_version(
    platform: Platform,
    identifier: str,
    *,
    data: object,
    actor: str,
    department: str | None = None,
    principal: Principal | None = None,
    client: str | None = None,
    now: datetime | None = None,
) -> Issued:
    """Issue the next version with new data; the old one becomes superseded and its QR says so.

    ``principal`` (an API token) may change only its department's licences of the kinds it covers.
    """
    row = _target(identifier, principal, department, client)
    if row.status not in ("valid", "suspended"):
        raise Conflict(f"licence is {row.status}; only a licence in force can be changed")
    return issue(platform, kind=row.kind, data=data, department=row.issuer, now=now, previous=parse_licence_id(identifier), actor=actor, client=client)
