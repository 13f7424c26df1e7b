"""Verification against the register: the pure pipeline, fed with trust and status from storage."""

from __future__ import annotations

from datetime import datetime

from ..core.verify import RecordView, Report, verify_pdf, verify_qr
from ..storage.licences import find_licence
from .platform import Platform, utcnow


def lookup_record(identifier: str) -> RecordView | None:
    row = find_licence(identifier)
    if row is None:
        return None
    return RecordView(
        identifier=row.identifier,
        status=row.status,
        data_digest=row.data_digest,
        qr_text=row.qr_text,
        pdf_sha256=row.pdf_sha256,
    )


def check_qr(platform: Platform, text: str, *, offline: bool = False, now: datetime | None = None) -> Report:
    return verify_qr(text, trust=platform.trust_store(), now=now or utcnow(), lookup=None if offline else lookup_record)


def check_pdf(platform: Platform, pdf: bytes, *, offline: bool = False, now: datetime | None = None) -> Report:
    return verify_pdf(pdf, trust=platform.trust_store(), now=now or utcnow(), lookup=None if offline else lookup_record)
