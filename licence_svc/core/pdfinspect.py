"""What a licence PDF says about itself: its signature as pyhanko sees it, and its embedded data.

Trust is explicit: only the platform root given by the caller, never the system store.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from ..errors import UnreadableEvidence
from .cms import to_asn1_cert
from .pdfsign import ATTACHMENT_NAME


@dataclass(frozen=True)
class PdfFindings:
    """Facts about one PDF; the verify pipeline turns them into checks and a verdict."""

    parse_error: str | None
    signature_count: int
    intact: bool
    valid: bool
    trusted: bool
    whole_file: bool
    unmodified: bool
    certified_no_changes: bool
    timestamped: bool
    signer_cert: x509.Certificate | None
    attachment: bytes | None
    summary: str

    @property
    def integrity_ok(self) -> bool:
        return (
            self.parse_error is None
            and self.signature_count == 1
            and self.intact
            and self.valid
            and self.whole_file
            and self.unmodified
            and self.certified_no_changes
        )


def _broken(reason: str) -> PdfFindings:
    return PdfFindings(reason, 0, False, False, False, False, False, False, False, None, None, reason)


def inspect_pdf(pdf: bytes, *, root: x509.Certificate) -> PdfFindings:
    """Validate the signature(s) against ``root`` only and pull out the embedded licence data.

    Raises UnreadableEvidence when the bytes are not a PDF at all; a damaged PDF gets findings.
    """
    if not pdf.lstrip()[:5] == b"%PDF-":
        raise UnreadableEvidence("not a PDF file")
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        sigs = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: any parser failure means damaged
        return _broken(f"PDF structure is damaged: {type(exc).__name__}")
    if not sigs:
        return _broken("PDF carries no signature")
    context = ValidationContext(trust_roots=[to_asn1_cert(root)], allow_fetching=False)
    sig = sigs[0]
    try:
        status = validate_pdf_signature(sig, signer_validation_context=context)
    except Exception as exc:  # noqa: BLE001 - as above: a verdict, never a crash
        return _broken(f"signature cannot be validated: {type(exc).__name__}")
    signer_cert = x509.load_der_x509_certificate(sig.signer_cert.dump())
    ts = status.timestamp_validity
    findings = PdfFindings(
        parse_error=None,
        signature_count=len(sigs),
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=bool(status.trusted),
        whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        unmodified=status.modification_level == ModificationLevel.NONE,
        certified_no_changes=sig.docmdp_level == MDPPerm.NO_CHANGES and bool(status.docmdp_ok),
        timestamped=ts is not None and ts.intact and ts.valid and ts.trusted,
        signer_cert=signer_cert,
        attachment=_attachment(reader),
        summary=status.summary(),
    )
    return findings


def _attachment(reader: PdfFileReader) -> bytes | None:
    """The embedded licence.json, or None when it is missing or cannot be decoded (a damaged
    stream raises zlib, PDF or type errors alike: all of them mean the same thing here)."""
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
        for i in range(0, len(names), 2):
            if str(names[i]) == ATTACHMENT_NAME:
                return bytes(names[i + 1]["/EF"]["/F"].data)
    except Exception:  # noqa: BLE001 - untrusted input; any failure is "no readable attachment"
        return None
    return None
