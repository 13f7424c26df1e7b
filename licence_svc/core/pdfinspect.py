"""What a licence PDF says about itself: its signature as pyhanko sees it, and its embedded data.

Trust is explicit: only the platform root given by the caller, never the system store.

Untrusted bytes are parsed with bounds a licence PDF never comes near: decoded stream sizes
(:data:`DECODE_LIMITS`) and cross-reference sections (:data:`MAX_XREF_ENTRIES`). Memory and time
are still bounded by the caller: uploads are inspected in a limited process (services.sandbox).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from io import BytesIO
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils import xref as pyhanko_xref
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from ..errors import UnreadableEvidence
from .cms import to_asn1_cert
from .pdfsign import ATTACHMENT_NAME

MiB = 1024 * 1024
DECODE_LIMITS = DecodeLimits(
    per_stream=StreamDecodeLimits(max_output_size=32 * MiB),
    document_budget=DocumentDecodeBudget(base_allowance=64 * MiB, max_ratio=100),
)
"""A licence PDF decodes to well under 1 MiB in all (its photo stays JPEG); pyhanko's defaults for
untrusted input allow 256 MiB a stream."""

MAX_XREF_ENTRIES = 10_000
"""Most entries one cross-reference stream may declare. A licence PDF has 20-40 objects. pyhanko
reads as many entries as ``/Index`` (or ``/Size``) declares, whether or not the stream holds them:
with ``/W [0 0 0]`` they take no bytes at all, so a 300-byte file declaring two billion entries kept
the parser looping and allocating until memory or patience ran out (found by tests/fuzz)."""


def _bounded_xref_stream(xref_stream: Any, strict: bool = True) -> Iterator[Any]:
    """pyhanko's ``parse_xref_stream``, after refusing a section declaring more than
    :data:`MAX_XREF_ENTRIES` entries. Its own type errors are left to it."""
    try:
        index = xref_stream.get("/Index", [0, xref_stream.get("/Size")])
        declared = sum(max(0, int(size)) for size in list(index)[1::2])  # a negative size cancels nothing
    except (TypeError, ValueError):
        declared = 0  # malformed: pyhanko raises on it itself
    if declared > MAX_XREF_ENTRIES:
        raise PdfReadError(f"cross-reference stream declares {declared} entries; at most {MAX_XREF_ENTRIES} are read")
    return _pyhanko_parse_xref_stream(xref_stream, strict=strict)


# pyhanko looks the function up in its module on every call; there is no option for the bound.
# Process-wide, harmlessly: the platform's own PDFs have a few dozen objects.
_pyhanko_parse_xref_stream = getattr(pyhanko_xref.parse_xref_stream, "__wrapped__", pyhanko_xref.parse_xref_stream)
_bounded_xref_stream.__wrapped__ = _pyhanko_parse_xref_stream  # type: ignore[attr-defined]
pyhanko_xref.parse_xref_stream = _bounded_xref_stream


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
    unsigned: bool = False  # a readable PDF with no signature at all

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
        reader = PdfFileReader(BytesIO(pdf), strict=False, decode_limits=DECODE_LIMITS)
        sigs = reader.embedded_signatures
    except Exception as exc:  # noqa: BLE001 - untrusted bytes: any parser failure means damaged
        return _broken(f"PDF structure is damaged: {type(exc).__name__}")
    if not sigs:  # readable, but no signature: a scan saved as PDF, or a stripped licence
        return replace(_broken("PDF carries no signature"), unsigned=True)
    context = ValidationContext(trust_roots=[to_asn1_cert(root)], allow_fetching=False)
    sig = sigs[0]
    try:
        status = validate_pdf_signature(sig, signer_validation_context=context)
        # Still the signature's own, untrusted structures: a certificate asn1crypto accepted but
        # cryptography refuses, a /Perms or /Reference that is not what pyhanko expects.
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
            timestamped=bool(ts is not None and ts.intact and ts.valid and ts.trusted),
            signer_cert=signer_cert,
            attachment=_attachment(reader),
            summary=status.summary(),
        )
    except Exception as exc:  # noqa: BLE001 - as above: a verdict, never a crash
        return _broken(f"signature cannot be validated: {type(exc).__name__}")
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
