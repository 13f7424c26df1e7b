"""The verification pipeline (core.verify) on its own: a genuine little platform built in memory
(tests/fuzz/world.py: no database, no files), its PDFs verified with findings as pyhanko reports
them or with one finding changed, so each step of the integrity check is pinned by itself."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from licence_svc.core.pdfinspect import PdfFindings, inspect_pdf
from licence_svc.core.verify import Report, verify_pdf
from tests.fuzz.world import World, build_world

MODIFIED = "document modified after signing"
MODIFIED_ZH = "文件在签名后被修改"


@pytest.fixture(scope="module")
def world() -> World:
    return build_world()


@pytest.fixture(scope="module")
def genuine(world: World) -> PdfFindings:
    """What pyhanko finds in the genuine licence PDF: everything in order."""
    findings = inspect_pdf(world.pdfs["licence"], root=world.root)
    assert findings.integrity_ok and findings.trusted and findings.timestamped
    return findings


def _verify(world: World, pdf: bytes, findings: PdfFindings | None = None) -> Report:
    """verify_pdf offline, with ``findings`` standing in for pyhanko's when given."""
    inspect = (lambda _pdf, _root: findings) if findings is not None else None
    return verify_pdf(pdf, trust=world.trust, now=world.now, inspect=inspect)


def _integrity(report: Report) -> tuple[bool | None, str, str]:
    (check,) = [c for c in report.checks if c.name == "pdf_integrity"]
    return check.passed, check.reason, check.reason_zh


def _annotated_after_signing(pdf: bytes) -> bytes:
    """An incremental update after the signature: a text note (已注销) added to page 1; the signed
    revision is left byte for byte as it was."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    note = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in (50, 50, 80, 80)]),  # type: ignore[no-untyped-call]
            generic.NameObject("/Contents"): generic.TextStringObject("已注销"),
        }
    )
    page[generic.NameObject("/Annots")] = generic.ArrayObject([writer.add_object(note)])
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()


def test_genuine_findings_pass_the_integrity_step(world: World, genuine: PdfFindings) -> None:
    """The twin of the tests below: the same findings, unchanged, pass (offline: status unchecked)."""
    report = _verify(world, world.pdfs["licence"], genuine)
    assert report.verdict == "unchecked"
    passed, reason, _ = _integrity(report)
    assert passed is True and "whole file covered" in reason


def test_modified_after_signing_on_its_own_is_tampered(world: World, genuine: PdfFindings) -> None:
    """Step 7's "modified after signing" branch by itself: the signature intact and valid, the whole
    file covered, the certification level kept, only pyhanko's difference analysis objecting."""
    report = _verify(world, world.pdfs["licence"], replace(genuine, unmodified=False))
    assert report.verdict == "tampered" and not report.valid
    passed, reason, reason_zh = _integrity(report)
    assert passed is False
    assert reason == MODIFIED  # the only problem found
    assert reason_zh == MODIFIED_ZH
    assert MODIFIED in report.reasons


def test_incremental_update_after_signing_is_tampered_as_modified(world: World) -> None:
    """A real update after signing, its signature intact over the signed revision: tampered, and
    the report says it was modified after signing (besides not covering the whole file)."""
    pdf = world.pdfs["licence"]
    updated = _annotated_after_signing(pdf)
    assert updated.startswith(pdf)
    findings = inspect_pdf(updated, root=world.root)
    assert findings.intact and findings.valid and findings.trusted  # the signed bytes are untouched
    assert not findings.unmodified
    report = _verify(world, updated)
    assert report.verdict == "tampered"
    passed, reason, reason_zh = _integrity(report)
    assert passed is False
    assert MODIFIED in reason.split("; ") and MODIFIED_ZH in reason_zh.split("；")
