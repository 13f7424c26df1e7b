"""Online verification: the pure pipeline fed with trust and status from the register.

Its own module so that every service that verifies (QR texts, pictures, scans) reaches the
register the same way, without importing one another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..core.masking import mask_number
from ..core.trust import TrustStore
from ..core.verify import CopyRecordView, RecordView, Report, StatusSource, verify_qr
from ..storage.copies import redemption_with_grant
from ..storage.licences import LicenceRecord, VerifiableLicence
from ..storage.verification import licence_for_verification, trust_epoch
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
    _, row = licence_for_verification(identifier)
    return None if row is None else record_view(row)


def verify_online(platform: Platform, run: Callable[[TrustStore, StatusSource], Report]) -> Report:
    """Run a check against the register with the trust store this process keeps, confirmed by
    the check's one read: the licence lookup also returns the trust epoch, which the database
    moves on any key or department change, anywhere. Had it moved, the store is rebuilt and the
    check run again, so no check is answered with stale trust. A check that never reached the
    lookup (a forgery, say) reads the epoch alone."""
    epoch, trust = platform.cached_trust()
    seen: list[int] = []

    def lookup(identifier: str) -> RecordView | None:
        current, row = licence_for_verification(identifier)
        seen.append(current)
        return None if row is None else record_view(row)

    report = run(trust, StatusSource(lookup=lookup, copy_lookup=lookup_copy))
    current = seen[-1] if seen else trust_epoch()
    if current != epoch or current == 0:
        report = run(platform.trust_at(current), REGISTER)
    return report


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
    base_url = platform.settings.base_url
    return verify_online(platform, lambda trust, source: verify_qr(text, trust=trust, now=now, source=source, base_url=base_url))
