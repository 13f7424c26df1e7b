"""Verification use cases: QR texts, PDFs and pictures against the register (or offline), audited."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography import x509

from ..core.pdfinspect import inspect_pdf
from ..core.signeddoc import open_document
from ..core.statuslist import StatusList
from ..core.trust import TrustStore
from ..core.trustlist import trust_store_from_list
from ..core.verify import OFFLINE, Report, StatusSource, verify_pdf, verify_qr
from ..errors import UnreadableEvidence
from . import audit, pictures
from .online import verify_online, verify_text_online
from .platform import Platform, utcnow
from .sandbox import inspect_pdf_sandboxed


def offline_sources(
    root: x509.Certificate, trust_list: Mapping[str, Any], status_list: Mapping[str, Any] | None
) -> tuple[TrustStore, StatusSource]:
    """Trust and status from signed documents only, as a verifier without the register has them."""
    trust = trust_store_from_list(trust_list, root)
    if status_list is None:
        return trust, OFFLINE
    body = open_document(status_list, root)
    parsed = StatusList.from_body(body)
    if parsed.issued is None or parsed.next_update is None:
        raise UnreadableEvidence("status list has no valid issued_at or next_update: an offline verifier must know when it stops being news")
    return trust, StatusSource(status_list=parsed)


def check_qr_with(text: str, trust: TrustStore, source: StatusSource, *, now: datetime | None = None) -> Report:
    return verify_qr(text, trust=trust, now=now or utcnow(), source=source)


def _audited(platform: Platform, report: Report, actor: str, client: str | None) -> Report:
    """The report, once its check is recorded (committed before the answer; audit.record_public)."""
    licence = report.licence["identifier"] if report.licence else None
    audit.record_public("verify", actor=actor, outcome=report.verdict, licence=licence, client=client, detail=report.evidence)
    return report


def check_qr(
    platform: Platform, text: str, *, offline: bool = False, actor: str = "public", client: str | None = None, now: datetime | None = None
) -> Report:
    """Verify QR text against the register (or offline) and record the verification."""
    now = now or utcnow()
    if offline:
        report = verify_qr(text, trust=platform.trust_store(), now=now, source=OFFLINE, base_url=platform.settings.base_url)
    else:
        report = verify_text_online(platform, text, now)
    return _audited(platform, report, actor, client)


def check_image(
    platform: Platform, image: bytes, *, actor: str = "public", client: str | None = None, now: datetime | None = None
) -> Report:
    """Verify a photo or scan (JPEG or PNG): every licence code in it against the register, and its
    printed text against the signed data (services.pictures); the report's evidence is "image".
    Raises ImageTooLarge, or UnreadableEvidence when no licence code can be read."""
    return _audited(platform, pictures.check_image(platform, image, now=now or utcnow()), actor, client)


def check_pdf(
    platform: Platform,
    pdf: bytes,
    *,
    offline: bool = False,
    sandbox: bool = False,
    actor: str = "public",
    client: str | None = None,
    now: datetime | None = None,
) -> Report:
    """Verify a PDF; ``sandbox`` parses it in a separate, resource-limited process, as every
    surface that takes a PDF from outside (upload, CLI) must.

    A PDF with no signature at all is a scan saved as PDF, not a tampered licence: its pages are
    verified as pictures (services.pictures), the report saying the file is not the signed
    original. That needs the register, so offline such a PDF is unreadable evidence.
    """
    now = now or utcnow()
    root = platform.root_cert()
    findings = inspect_pdf_sandboxed(pdf, root) if sandbox else inspect_pdf(pdf, root=root)
    if findings.unsigned:
        if offline:
            raise UnreadableEvidence("the PDF carries no signature (a scan?): verify it online, or its QR text with --qr")
        return _audited(platform, pictures.check_scanned_pdf(platform, pdf, now=now), actor, client)
    base_url = platform.settings.base_url

    def run(trust: TrustStore, source: StatusSource) -> Report:
        return verify_pdf(pdf, trust=trust, now=now, source=source, inspect=lambda _pdf, _root: findings, base_url=base_url)

    report = run(platform.trust_store(), OFFLINE) if offline else verify_online(platform, run)
    return _audited(platform, report, actor, client)
