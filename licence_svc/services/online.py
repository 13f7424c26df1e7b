"""Online verification: the pure pipeline fed with trust and status from the register.

Its own module so that every service that verifies (QR texts, pictures, scans) reaches the
register the same way, without importing one another.
"""

from __future__ import annotations

from datetime import datetime

from ..core.masking import mask_number
from ..core.verify import CopyRecordView, RecordView, Report, StatusSource, verify_qr
from ..storage.copies import redemption_with_grant
from ..storage.licences import LicenceRecord, VerifiableLicence, find_licence_for_verification
from .platform import Platform


def record_view(row: LicenceRecord | VerifiableLicence) -> RecordView:
    """What the verification pipeline may know of a register entry: no personal data in clear."""
    return RecordView(
        identifier=row.identifier,
        status=row.status,
        data_digest=row.data_digest,
        qr_text=row.qr_text,
        pdf_sha256=row.pdf_sha256,
        status_category=row.status_category,
        holder_id_masked=mask_number(row.holder),
        superseded_by=row.superseded_by,
        kid=row.kid,
    )


def lookup_record(identifier: str) -> RecordView | None:
    row = find_licence_for_verification(identifier)
    return None if row is None else record_view(row)


def register_holding(row: LicenceRecord) -> StatusSource:
    """The register, answering for the licence already read as ``row`` without reading it again."""
    held = record_view(row)

    def lookup(identifier: str) -> RecordView | None:
        return held if identifier == row.identifier else lookup_record(identifier)

    return StatusSource(lookup=lookup, copy_lookup=lookup_copy)


def lookup_copy(redemption_id: str) -> CopyRecordView | None:
    """The redemption that handed out an annotated copy, with the state of its grant."""
    row = redemption_with_grant(redemption_id)
    if row is None:
        return None
    return CopyRecordView(
        redemption=row.redemption_id,
        grant=row.grant_id,
        licence=row.licence,
        copy_sha256=row.copy_sha256,
        grant_revoked=row.grant_revoked,
    )


REGISTER = StatusSource(lookup=lookup_record, copy_lookup=lookup_copy)


def verify_text_online(platform: Platform, text: str, now: datetime) -> Report:
    """A QR text checked against the register, not audited: for callers that check more (a
    picture's printed text, a scan) and audit the whole report themselves."""
    return verify_qr(text, trust=platform.trust_store(), now=now, source=REGISTER, base_url=platform.settings.base_url)
