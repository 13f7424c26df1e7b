"""Every PDF ends in a verdict or a LicenceError, never another exception or a hang; and no PDF
whose signed bytes changed is taken as genuine.

PDFs go through ``verify_pdf`` with the in-process inspector (pyhanko), in a child process limited
to 1 GiB and 20 s a file (see conftest.pdf_box): mutated genuine licences and annotated copies,
hostile structures of their own or appended as an incremental update, and embedded licence.json
documents of every shape.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from licence_svc.core import annotate
from licence_svc.core.pdfinspect import PdfFindings, inspect_pdf
from licence_svc.core.verify import StatusSource, verify_pdf
from tests.fuzz import mutate
from tests.fuzz.conftest import fuzz_settings
from tests.fuzz.runner import Outcome, Sandbox, timed_outcome
from tests.fuzz.world import World, attachment_bytes, copy_section, page_for

GENUINE = ("licence", "copy", "long_term")


def run(box: Sandbox, pdf: bytes, source: str = "offline") -> Outcome:
    outcome = box.run((pdf, source))
    assert outcome.ok, f"{outcome.kind}: {outcome.detail}"
    return outcome


def test_genuine_pdfs_are_genuine(pdf_box: Sandbox, world: World) -> None:
    for name in GENUINE:
        for source in ("offline", "register"):
            assert run(pdf_box, world.pdfs[name], source).accepted, (name, source)


# -- mutated genuine files --------------------------------------------------------------------------


@fuzz_settings(120)
@given(rng=st.randoms(use_true_random=False), name=st.sampled_from(GENUINE), source=st.sampled_from(["offline", "register"]))
def test_mutated_pdfs(pdf_box: Sandbox, world: World, rng: random.Random, name: str, source: str) -> None:
    original = world.pdfs[name]
    pdf = original
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        pdf = mutate.mutate_pdf(pdf, rng)
    outcome = run(pdf_box, pdf, source)
    if outcome.accepted:
        assert not mutate.signed_bytes_changed(original, pdf), "a PDF whose signed bytes changed was taken as genuine"


@fuzz_settings(20)
@given(rng=st.randoms(use_true_random=False), name=st.sampled_from(GENUINE))
def test_a_changed_signed_byte_is_never_genuine(pdf_box: Sandbox, world: World, rng: random.Random, name: str) -> None:
    assert not run(pdf_box, mutate.flip_signed_byte(world.pdfs[name], rng)).accepted


# -- hostile structures -----------------------------------------------------------------------------


@fuzz_settings(120)
@given(rng=st.randoms(use_true_random=False), kind=st.sampled_from(mutate.HOSTILE_KINDS), base=st.sampled_from([None, *GENUINE]))
def test_hostile_structures(pdf_box: Sandbox, world: World, rng: random.Random, kind: str, base: str | None) -> None:
    if base is None:
        pdf = mutate.hostile_structure(rng, kind=kind)
    else:
        pdf = world.pdfs[base] + mutate.hostile_update(world.pdfs[base], rng, kind=kind)
    assert not run(pdf_box, pdf).accepted


@pytest.mark.parametrize("widths", [b"[0 0 0]", b"[1 4 1]", b"[8 8 8]"])
@pytest.mark.parametrize("entries", [10**6, 2 * 10**9, 2**64])
def test_a_cross_reference_stream_declaring_billions_of_entries_is_refused_at_once(world: World, entries: int, widths: bytes) -> None:
    """Was: pyhanko read every declared entry from an empty stream, looping and allocating until
    memory ran out (1-4 s and 768 MiB in the sandbox; unbounded in process). In process here."""
    started = time.monotonic()
    findings = inspect_pdf(mutate.xref_bomb_pdf(entries, widths), root=world.root)
    assert findings.parse_error is not None and "damaged" in findings.parse_error
    assert time.monotonic() - started < 1.0


def test_negative_sizes_do_not_cancel_the_count(world: World) -> None:
    pdf = mutate.xref_bomb_pdf().replace(b"/Index [0 2000000000]", b"/Index [0 2000000000 5 -1999999999]")
    started = time.monotonic()
    assert inspect_pdf(pdf, root=world.root).parse_error is not None
    assert time.monotonic() - started < 1.0


def test_the_same_bound_appended_to_a_genuine_licence(world: World) -> None:
    original = world.pdfs["licence"]
    rng = random.Random(7)
    for _ in range(8):
        pdf = original + mutate.hostile_update(original, rng, kind="xref_stream_index")
        outcome = timed_outcome(lambda: verify_pdf(pdf, trust=world.trust, now=world.now), 5.0)
        assert outcome.ok and not outcome.accepted, outcome.detail


# -- embedded licence.json and annotated-copy sections ------------------------------------------------


@pytest.fixture(scope="module")
def genuine_findings(world: World) -> dict[str, PdfFindings]:
    return {name: inspect_pdf(world.pdfs[name], root=world.root) for name in GENUINE}


@fuzz_settings(250)
@given(rng=st.randoms(use_true_random=False), name=st.sampled_from(GENUINE), source=st.sampled_from(["offline", "register", "status_list"]))
def test_embedded_documents_of_any_shape(
    world: World, sources: dict[str, StatusSource], genuine_findings: dict[str, PdfFindings], rng: random.Random, name: str, source: str
) -> None:
    """The genuine PDF's findings with the attachment swapped: every document a PDF could embed,
    at the speed of the pipeline after pyhanko (the signed twins are below)."""
    findings = genuine_findings[name]
    doc = mutate.mutate_attachment(_json(findings.attachment), rng)
    attachment = mutate.attachment_bytes_variant(doc, rng)
    swapped = replace(findings, attachment=attachment)
    outcome = timed_outcome(lambda: verify_pdf(world.pdfs[name], trust=world.trust, now=world.now, source=sources[source], inspect=lambda pdf, root: swapped), 5.0)
    assert outcome.ok, f"{outcome.kind}: {attachment[:300]!r}\n{outcome.detail}"


@fuzz_settings(100)
@given(attachment=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_embedded_bytes_of_any_kind(world: World, sources: dict[str, StatusSource], genuine_findings: dict[str, PdfFindings], attachment: bytes) -> None:
    swapped = replace(genuine_findings["licence"], attachment=attachment)
    outcome = timed_outcome(lambda: verify_pdf(world.pdfs["licence"], trust=world.trust, now=world.now, source=sources["register"], inspect=lambda pdf, root: swapped), 5.0)
    assert outcome.ok, outcome.detail


EXTREME_EXPIRIES = [
    "0001-01-01T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "0001-01-01T07:59:59+00:00", "0001-01-01T00:00:00-12:00",
    "9999-12-31T23:59:59+00:00", "9999-12-31T16:00:00+00:00", "9999-12-31T23:59:59-23:59", "9999-12-31T15:59:59+00:00",
    "9999-12-31T23:59:59.999999+08:00", "1970-01-01T00:00:00+00:00", "2199-12-31T23:59:59+00:00", "2200-01-01T00:00:00+00:00",
]


@pytest.mark.parametrize("expires_at", EXTREME_EXPIRIES)
@pytest.mark.parametrize("source", ["offline", "register"])
def test_annotated_copy_with_an_extreme_expiry(world: World, sources: dict[str, StatusSource], genuine_findings: dict[str, PdfFindings], expires_at: str, source: str) -> None:
    doc = _json(genuine_findings["copy"].attachment)
    doc["copy"]["expires_at"] = expires_at
    swapped = replace(genuine_findings["copy"], attachment=attachment_bytes(doc))
    outcome = timed_outcome(lambda: verify_pdf(world.pdfs["copy"], trust=world.trust, now=world.now, source=sources[source], inspect=lambda pdf, root: swapped), 5.0)
    assert outcome.ok, outcome.detail


SIGNED_ATTACHMENTS: list[tuple[str, Any]] = [
    ("nested 100000 deep", lambda doc: mutate.nested_json_bytes(100_000, key="data", base=doc)),
    ("copy nested 5000 deep", lambda doc: mutate.nested_json_bytes(5000, key="copy", base=doc)),
    ("qr_text a number", lambda doc: attachment_bytes({**doc, "qr_text": 12})),
    ("data a list", lambda doc: attachment_bytes({**doc, "data": [1, 2]})),
    ("copy a string", lambda doc: attachment_bytes({**doc, "copy": "加注件"})),
    ("copy expiring in year 9999", lambda doc: attachment_bytes({**doc, "copy": {**doc["copy"], "expires_at": "9999-12-31T23:59:59-05:00"}})),
    ("copy expiring in year 1", lambda doc: attachment_bytes({**doc, "copy": {**doc["copy"], "expires_at": "0001-01-01T00:00:00+08:00"}})),
    ("a lone surrogate", lambda doc: json.dumps({**doc, "copy": {**doc["copy"], "purpose": "\ud800"}}).encode("ascii")),
    ("not JSON", lambda doc: b"\xff\xfe{"),
]


@pytest.mark.parametrize("name, make", SIGNED_ATTACHMENTS, ids=[n for n, _ in SIGNED_ATTACHMENTS])
def test_signed_copies_with_hostile_attachments(pdf_box: Sandbox, world: World, name: str, make: Any) -> None:
    """The same documents certified for real with the platform's copy-signing key: pyhanko finds a
    sound signature and hands the hostile attachment on."""
    lic = world.licences["id_card"]
    section = copy_section(world, expires_at=world.now + timedelta(days=3))
    doc = {**lic.attachment, "copy": {**section.as_attachment(), "made_at": world.now.isoformat()}}
    page = _copy_page(world)
    pdf = world.sign_pdf(page, make(doc), copy=True)
    for source in ("offline", "register"):
        assert not run(pdf_box, pdf, source).accepted


_PAGES: dict[str, bytes] = {}


def _copy_page(world: World) -> bytes:
    if "copy" not in _PAGES:
        section = copy_section(world, expires_at=datetime(2030, 1, 1, tzinfo=timezone.utc))
        _PAGES["copy"] = page_for(world.licences["id_card"], now=world.now, overlay=annotate.overlay(section))
    return _PAGES["copy"]


def _json(raw: bytes | None) -> Any:
    assert raw is not None
    return json.loads(raw)
