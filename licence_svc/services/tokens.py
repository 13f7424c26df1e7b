"""Department API clients: bearer tokens scoped to a department and kinds, and authentication.

Only a token's SHA-256 is stored; the token itself is shown once. Failed authentication is
counted per client address across all workers (in the database) and throttled.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..core.kinds import KINDS
from ..errors import FieldProblem, InvalidInput, NotAuthorised, RateLimited, Unauthenticated
from ..storage import tokens as store
from ..storage.db import transaction
from ..storage.departments import find_department
from . import audit, throttle
from .platform import as_utc, utcnow

FAILURE_WINDOW = timedelta(minutes=5)
MAX_FAILURES = 20  # per client address and window
# What a token may do: issue and manage its department's licences, redeem holders' share codes
# (a service window), run field-match checks (核验).
SCOPES = ("issue", "redeem", "check")
_TOKEN = re.compile(r"lic_([0-9a-f]{8})_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class Principal:
    """An authenticated department API client."""

    department: str
    token_id: str
    kinds: frozenset[str]
    scopes: frozenset[str] = frozenset({"issue"})

    @property
    def actor(self) -> str:
        return f"{self.department}/token:{self.token_id}"

    def require_kind(self, kind: str, *, licence: str | None = None, client: str | None = None) -> None:
        """A token may act only on the kinds it is scoped to (a subset of its department's)."""
        if kind not in self.kinds:
            audit.record("denied", actor=self.actor, outcome="forbidden", licence=licence, client=client, detail=f"kind {kind} not in token scope")
            raise NotAuthorised(f"this token may not act on {kind} ({KINDS[kind].label if kind in KINDS else kind})")

    def require_scope(self, scope: str, *, client: str | None = None) -> None:
        if scope not in self.scopes:
            audit.record("denied", actor=self.actor, outcome="forbidden", client=client, detail=f"scope {scope} not granted to token")
            raise NotAuthorised(f"this token lacks the {scope} scope")


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(
    department_code: str,
    kinds: list[str] | None = None,
    *,
    label: str = "",
    expires_at: datetime | None = None,
    scopes: list[str] | None = None,
) -> tuple[str, str]:
    """A new token for ``department_code`` scoped to ``kinds`` (default: all its kinds) and
    ``scopes`` (default: issue).

    Returns (token id, token); the token is the only copy there will ever be.
    """
    dept = find_department(department_code)
    if dept is None:
        raise InvalidInput.single("department", f"no department with code {department_code}")
    allowed = dept.kind_list
    kinds = kinds or allowed
    problems = [FieldProblem("kinds", f"{k} is not a kind {dept.code} may issue") for k in kinds if k not in allowed]
    scopes = scopes or ["issue"]
    problems += [FieldProblem("scopes", f"unknown scope {s}; expected {', '.join(SCOPES)}") for s in scopes if s not in SCOPES]
    if expires_at is not None:
        expires_at = as_utc(expires_at)  # stored in UTC on every database
    if expires_at is not None and expires_at <= utcnow():
        problems.append(FieldProblem("expires", "must be in the future"))
    if problems:
        raise InvalidInput(problems)
    token_id = secrets.token_hex(4)
    token = f"lic_{token_id}_{secrets.token_urlsafe(32)}"
    with transaction():
        store.add_token(
            token_id=token_id,
            department=dept.code,
            token_hash=_hash(token),
            kinds=list(kinds),
            scopes=list(dict.fromkeys(scopes)),
            label=label[:100],
            created_at=utcnow(),
            expires_at=expires_at,
        )
    return token_id, token


def list_tokens(department: str | None = None) -> list[dict[str, object]]:
    return [
        {
            "token_id": t.token_id,
            "department": t.department,
            "kinds": list(t.kinds),
            "scopes": list(t.scopes),
            "label": t.label,
            "created_at": t.created_at.isoformat(),
            "expires_at": t.expires_at.isoformat() if t.expires_at else None,
            "revoked": t.revoked_at is not None,
        }
        for t in store.tokens(department)
    ]


def revoke_token(token_id: str) -> None:
    with transaction():
        revoked = store.revoke_token(token_id.strip(), utcnow())
    if not revoked:
        raise InvalidInput.single("token_id", f"no active token {token_id}")


def authenticate(authorization: str | None, *, client: str) -> Principal:
    """Check a ``Bearer`` header. Wrong, expired or revoked → Unauthenticated (counted per client);
    too many failures from one address → RateLimited."""
    now = utcnow()
    if throttle.throttled(client, window=FAILURE_WINDOW, limit=MAX_FAILURES, now=now):
        raise RateLimited("too many failed authentications from this address; try again later")
    reason = None
    token = None
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        reason = "missing bearer token"
    else:
        value = value.strip()
        row = store.token_by_hash(_hash(value)) if _TOKEN.fullmatch(value) else None
        if row is None or not hmac.compare_digest(row.token_hash, _hash(value)):
            reason = "unknown token"
        elif row.revoked_at is not None:
            reason = "token revoked"
        elif row.expires_at is not None and as_utc(row.expires_at) <= now:
            reason = "token expired"
        else:
            token = row
    if token is None:
        with transaction():  # counted and audited together, committed before the refusal is raised
            throttle.count_failure(client, now)
            audit.record("authenticate", actor="unknown", outcome="unauthenticated", client=client, detail=reason)
        raise Unauthenticated(reason or "unauthenticated")
    dept = find_department(token.department)
    # The department's kinds now: a token keeps none it was given that the department has since lost.
    kinds = frozenset(token.kinds) & frozenset(dept.kinds if dept else ())
    return Principal(token.department, token.token_id, kinds, frozenset(token.scopes))
