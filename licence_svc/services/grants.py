"""A holder's share grants as the services and pages see them. Its own module so that the
holder's pages (services.holders) and sharing (services.shares) both use it without importing
each other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.kinds import KINDS
from ..storage import shares as store
from ..storage.shares import GrantRecord
from .platform import as_utc, utcnow

SCOPES = ("verify", "data", "pdf")  # each includes the ones before it
SCOPE_LABELS = {"verify": "仅核验真伪与状态", "data": "核验并获取证照数据", "pdf": "核验、获取数据并下载加注件"}
STATE_LABELS = {"active": "有效", "expired": "已过期", "revoked": "已撤销"}


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


def grant_of(rec: GrantRecord, now: datetime) -> Grant:
    """The grant as of ``now``: revoked, expired or active."""
    expires_at = as_utc(rec.expires_at)
    revoked_at = as_utc(rec.revoked_at) if rec.revoked_at else None
    state = "revoked" if revoked_at is not None else ("expired" if expires_at <= now else "active")
    return Grant(
        grant_id=rec.grant_id,
        licence=rec.licence,
        kind=rec.kind,
        holder=rec.holder,
        recipient=rec.recipient,
        recipient_name=rec.recipient_name,
        purpose=rec.purpose,
        scope=rec.scope,
        created_at=as_utc(rec.created_at),
        expires_at=expires_at,
        revoked_at=revoked_at,
        bound_to=rec.bound_to,
        state=state,
    )


def grants_of(holder: str, licence: str | None = None) -> list[Grant]:
    """The holder's grants (of one licence, or all), newest first."""
    now = utcnow()
    return [grant_of(r, now) for r in store.grants_of(holder, licence)]
