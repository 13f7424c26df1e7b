"""What holders see under "who has used my licence": each read, download, share and check.

Written next to the audit trail (which proves integrity); this log answers the holder's
question in their terms: which organisation, for what purpose, under which grant.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..storage import audit as trail
from ..storage import usage as store
from ..storage.db import transaction
from .platform import as_utc, utcnow

MAX_PURPOSE = 200  # the longest purpose (申请事由) a share, a check or the usage log takes

# What the holder's page calls each action.
ACTION_LABELS = {
    "read": "调取证照数据",
    "download": "下载证照文件",
    "holder_download": "本人下载",
    "share": "创建授权",
    "unshare": "撤销授权",
    "redeem": "凭授权码使用",
    "check": "核验信息",
    "verify": "扫码/文件查验",
    "materials": "办事材料免交核验",
}


def event(
    licence: str,
    action: str,
    *,
    organisation: str | None = None,
    organisation_name: str | None = None,
    purpose: str | None = None,
    grant: str | None = None,
    authorised: bool = True,
    outcome: str = "ok",
    now: datetime | None = None,
) -> dict[str, Any]:
    """One entry of the usage log, for ``write`` to record with the audit events of the same use
    (as audit.event is for the trail). Purpose and outcome are cut to what the log stores;
    without ``organisation_name`` the department's is looked up when written."""
    return {
        "licence": licence,
        "at": now or utcnow(),
        "action": action,
        "organisation": organisation,
        "organisation_name": organisation_name,
        "purpose": (purpose or None) and purpose[:MAX_PURPOSE],
        "grant": grant,
        "authorised": authorised,
        "outcome": outcome[:40],
    }


def write(uses: list[dict[str, Any]], audit_events: list[dict[str, Any]]) -> None:
    """Usage entries and the audit events (services.audit.event) of the same uses, together or not
    at all: in the caller's transaction, or in one of their own."""
    if not uses and not audit_events:
        return
    with transaction():
        store.add(uses)
        for fields in audit_events:
            trail.append(**fields)


def record(licence: str, action: str, **fields: Any) -> None:
    """Record one use (no audit event with it); the fields of ``event``. Joins the caller's transaction."""
    with transaction():
        store.add([event(licence, action, **fields)])


def events(identifiers: list[str], *, limit: int = 500) -> list[dict[str, Any]]:
    """Newest first, for the holder's page and API: the usage log, and every public check of the
    licence (scanned QR, uploaded PDF or photo) from the audit trail, sealed or not yet sealed,
    as 公众查验 with no organisation (a public check names no one)."""
    out = []
    for check in trail.public_checks(identifiers, limit=limit):
        out.append(
            {
                "licence": check["licence"],
                "at": datetime.fromisoformat(check["at"]).astimezone(timezone.utc).isoformat(),
                "action": "verify",
                "action_label": ACTION_LABELS["verify"],
                "organisation": None,
                "organisation_name": None,
                "purpose": None,
                "grant": None,
                "authorised": True,
                "outcome": "ok",  # the check was made; its verdict is the licence's own status
            }
        )
    for e in store.for_licences(identifiers, limit=limit):
        out.append(
            {
                "licence": e.licence,
                "at": as_utc(e.at).isoformat(),
                "action": e.action,
                "action_label": ACTION_LABELS.get(e.action, e.action),
                "organisation": e.organisation,
                "organisation_name": e.organisation_name,
                "purpose": e.purpose,
                "grant": e.grant,
                "authorised": e.authorised,
                "outcome": e.outcome,
            }
        )
    return sorted(out, key=lambda e: datetime.fromisoformat(e["at"]), reverse=True)[:limit]


def count_recent(organisation: str, action: str, since: datetime) -> int:
    return store.count_since(organisation, action, since)
