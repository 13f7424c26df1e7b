"""Annotated copies (加注件): what a service window downloads through a holder's share grant.

The licence PDF itself is certified "no changes", so a copy is a new document: the licence pages
re-rendered from the register's data and QR text, with the notice drawn over each page, the
licence data embedded with a ``copy`` section, and a certification signature by the platform's
copy-signing identity (never the issuing department's key). Verification reads the section and
checks the file against Redemption.copy_sha256, which the caller records.
"""

from __future__ import annotations

import json
from datetime import datetime

from ..core import annotate
from ..core.dates import CHINA
from ..core.kinds import get_kind
from ..core.pdfsign import sign_licence_pdf
from ..core.render import RenderRequest, render_pdf
from ..errors import ConfigurationError
from ..storage.departments import DepartmentRecord, find_department
from ..storage.licences import LicenceRecord, get_licence
from .issuing import ATTACHMENT_FORMAT
from .platform import Platform, as_utc, utcnow


def platform_department() -> DepartmentRecord:
    """The pseudo-department whose key signs copies; ``init`` creates it."""
    dept = find_department(annotate.PLATFORM_CODE)
    if dept is None:
        raise ConfigurationError("the platform's copy-signing identity is missing: run `python cli.py init`")
    return dept


def annotated_copy(
    platform: Platform,
    *,
    licence: str,
    grant_id: str,
    redemption_id: str,
    recipient_code: str,
    recipient_name: str,
    purpose: str,
    expires_at: datetime,
    now: datetime | None = None,
    row: LicenceRecord | None = None,
) -> bytes:
    """The annotated copy of ``licence`` for one redemption of a grant, signed by the platform.

    Pure production: nothing is written. The caller stores ``sha256(copy)`` as the redemption's
    ``copy_sha256`` in the same transaction as the redemption, or verification reports the copy as
    not in the register. A naive ``expires_at`` is taken as UTC (the register's zone). A caller that
    has loaded the licence passes its ``row`` (of ``licence``) to spare the look-up.
    Raises NotFound for an unknown licence, ConfigurationError without the platform identity.
    """
    if row is None or row.identifier != licence:
        row = get_licence(licence)
    issuer = find_department(row.issuer)
    if issuer is None:  # the register's foreign key makes this a broken register, not a user error
        raise ConfigurationError(f"licence {row.identifier} names an unknown issuer {row.issuer}")
    spec = get_kind(row.kind)
    section = annotate.CopySection(
        grant=grant_id,
        redemption=redemption_id,
        recipient_code=recipient_code,
        recipient_name=recipient_name,
        purpose=purpose,
        expires_at=as_utc(expires_at),
        original_pdf_sha256=row.pdf_sha256,
    )
    issued_at = as_utc(row.issued_at)
    data = json.loads(row.data_json)
    page = render_pdf(
        RenderRequest(
            kind=spec,
            data=data,
            identifier=row.identifier,
            issuer_name=issuer.name,
            issued_on=issued_at.astimezone(CHINA).date(),
            qr_text=row.qr_text,
        ),
        overlay=annotate.overlay(section),
    )
    attachment = {
        "format": ATTACHMENT_FORMAT,
        "identifier": row.identifier,
        "kind": spec.name,
        "kind_label": spec.label,
        "version": row.version,
        "issuer": {"code": issuer.code, "name": issuer.name},
        "issued_at": issued_at.isoformat(),
        "data": data,
        "qr_text": row.qr_text,
        "copy": {**section.as_attachment(), "made_at": as_utc(now or utcnow()).isoformat()},
    }
    _key, signer, _creds = platform.signer_for(platform_department())
    return sign_licence_pdf(
        page,
        attachment=json.dumps(attachment, ensure_ascii=False, indent=1).encode("utf-8"),
        signer=signer,
        reason=annotate.COPY_SIGNING_REASON,
    )
