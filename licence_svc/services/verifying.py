"""Verification use cases: QR texts, PDFs and pictures against the register (or offline), audited."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from cryptography import x509

from ..core.qrread import read_qr_from_image
from ..core.signeddoc import open_document
from ..core.statuslist import StatusList
from ..core.trust import TrustStore
from ..core.trustlist import trust_store_from_list
from ..core.verify import OFFLINE, Report, StatusSource, verify_pdf, verify_qr
from ..errors import UnreadableEvidence
from . import audit
from .online import REGISTER, verify_text_online
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
    if parsed.issued is None:
        raise UnreadableEvidence("status list has no valid issued_at")
    return trust, StatusSource(status_list=parsed, as_of=parsed.issued, next_update=_moment(body.get("next_update"), "next_update"))


def _moment(value: object, name: str) -> datetime:
    """A signed document's time: an offline verifier must know when a status list stops being news."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise UnreadableEvidence(f"status list has no valid {name}")
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def check_qr_with(text: str, trust: TrustStore, source: StatusSource, *, now: datetime | None = None) -> Report:
    return verify_qr(text, trust=trust, now=now or utcnow(), source=source)


def _audited(platform: Platform, report: Report, actor: str, client: str | None) -> Report:
    licence = report.licence["identifier"] if report.licence else None
    audit.record("verify", actor=actor, outcome=report.verdict, licence=licence, client=client, detail=report.evidence)
    audit.maybe_checkpoint(platform)
    return report


def check_qr(
    platform: Platform, text: str, *, offline: bool = False, actor: str = "public", client: str | None = None, now: datetime | None = None
) -> Report:
    """Verify QR text against the register (or offline) and record the verification."""
    report = verify_qr(
        text, trust=platform.trust_store(), now=now or utcnow(), source=OFFLINE if offline else REGISTER, base_url=platform.settings.base_url
    )
    return _audited(platform, report, actor, client)


def check_image(
    platform: Platform, image: bytes, *, actor: str = "public", client: str | None = None, now: datetime | None = None
) -> Report:
    """Verify the licence QR in a photo or scan (JPEG or PNG) against the register; the report's
    evidence is "image". Raises ImageTooLarge, or UnreadableEvidence when no QR code can be read."""
    text = read_qr_from_image(image)
    report = verify_text_online(platform, text, now or utcnow())
    return _audited(platform, replace(report, evidence="image"), actor, client)


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
    surface that takes a PDF from outside (upload, CLI) must."""
    report = verify_pdf(
        pdf,
        trust=platform.trust_store(),
        now=now or utcnow(),
        source=OFFLINE if offline else REGISTER,
        inspect=inspect_pdf_sandboxed if sandbox else None,
        base_url=platform.settings.base_url,
    )
    return _audited(platform, report, actor, client)
