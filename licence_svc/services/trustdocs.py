"""The signed documents offline verifiers cache: the trust list and the status list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ..core.signeddoc import sign_document
from ..core.statuslist import status_body
from ..core.trustlist import trust_list_body
from ..storage.licences import status_entries
from .platform import Platform, utcnow

STATUS_LIST_TTL = timedelta(minutes=5)


def signed_trust_list(platform: Platform) -> dict[str, Any]:
    root = platform.root_credentials()
    body = trust_list_body(root.cert, platform.issuers(), issued_at=utcnow().isoformat())
    return sign_document(body, root.key, root.cert)  # type: ignore[arg-type]


def signed_status_list(platform: Platform) -> dict[str, Any]:
    """Rebuilt from the register on each call: a status change shows in the next list fetched."""
    root = platform.root_credentials()
    now = utcnow()
    body = status_body(status_entries(), issued_at=now.isoformat(), next_update=(now + STATUS_LIST_TTL).isoformat())
    return sign_document(body, root.key, root.cert)  # type: ignore[arg-type]
