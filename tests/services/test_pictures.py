"""Verifying pictures of licences: real issued licences rendered at 150 dpi and photographed (turned,
shrunk, JPEG), genuine and with the printed name or number painted over; several codes in one
picture; a scan saved as an unsigned PDF; hostile images; OCR missing, failing or too slow."""

from __future__ import annotations

import io
import re
import shutil
import stat
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from licence_svc.core.qr import qr_png
from licence_svc.core.qrread import ImageTooLarge
from licence_svc.core.verify import Report
from licence_svc.errors import UnreadableEvidence
from licence_svc.services import pictures
from licence_svc.services.pictures import check_image, check_scanned_pdf

NOW = datetime.now(timezone.utc)
needs_ocr = pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract-ocr is not installed")
_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


@pytest.fixture(scope="module")
def id_card(issued_samples: dict[str, Any]) -> Any:
    if shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils is not installed")
    return issued_samples["id_card"]


@pytest.fixture(scope="module")
def page(id_card: Any) -> Image.Image:
    """The id card's page at 150 dpi, as a flatbed scan gives it."""
    png = subprocess.run(["pdftoppm", "-r", "150", "-png", "-singlefile", "-"], input=id_card.pdf, capture_output=True, check=True, timeout=60).stdout
    return Image.open(io.BytesIO(png)).convert("RGB")


def painted(pdf: bytes, page: Image.Image, value: str) -> Image.Image:
    """``page`` with a white rectangle over the printed ``value`` (its box from pdftotext)."""
    html = subprocess.run(["pdftotext", "-bbox", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    boxes = [tuple(float(v) for v in m.groups()[:4]) for m in _WORD.finditer(html) if m.group(5) == value]
    assert boxes, value
    out = page.copy()
    k = 150 / 72
    for x0, y0, x1, y1 in boxes:
        ImageDraw.Draw(out).rectangle((x0 * k - 2, y0 * k - 2, x1 * k + 2, y1 * k + 2), fill="white")
    return out


def encode(img: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def photographed(img: Image.Image, angle: float = 7.0) -> bytes:
    """Turned ``angle`` degrees on a grey desk, shrunk to 60 %, JPEG quality 40."""
    turned = img.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(150, 150, 145))
    return encode(turned.resize((round(turned.width * 0.6), round(turned.height * 0.6)), Image.Resampling.LANCZOS), "JPEG", quality=40)


def check_named(report: Report, name: str) -> Any:
    (check,) = [c for c in report.checks if c.name == name]
    return check


def notices(report: Report) -> list[str]:
    return [w.code for w in report.warnings]


def shown(report: Report) -> str:
    """Everything the report says in words."""
    return str([(c.reason, c.reason_zh) for c in report.checks] + [(w.message, w.message_zh) for w in report.warnings])


# --- genuine pictures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def genuine_scan(platform: Any, page: Image.Image) -> Report:
    return check_image(platform, encode(page), now=NOW)


@needs_ocr
def test_a_genuine_scan_is_valid_with_its_printed_text_found(genuine_scan: Report, id_card: Any) -> None:
    assert genuine_scan.verdict == "valid"
    assert genuine_scan.evidence == "image"
    assert genuine_scan.licence is not None and genuine_scan.licence["identifier"] == id_card.identifier
    printed = check_named(genuine_scan, "printed_text")
    assert printed.passed is True
    assert "姓名" in printed.reason_zh and "公民身份号码" in printed.reason_zh
    assert check_named(genuine_scan, "single_code").passed is True
    assert "compare_printed_text" in notices(genuine_scan)


@needs_ocr
def test_a_genuine_photo_is_valid(platform: Any, page: Image.Image) -> None:
    report = check_image(platform, photographed(page, -8.0), now=NOW)
    assert report.verdict == "valid"
    assert check_named(report, "printed_text").passed is True


def test_the_report_never_shows_the_holders_name_or_number(genuine_scan: Report) -> None:
    data = {"张晓明", "110101199003071233"}
    assert not any(value in shown(genuine_scan) for value in data)


# --- painted over -----------------------------------------------------------------------------------


@needs_ocr
def test_a_painted_over_name_is_tampered_naming_the_field(platform: Any, id_card: Any, page: Image.Image) -> None:
    report = check_image(platform, encode(painted(id_card.pdf, page, "张晓明")), now=NOW)
    assert report.verdict == "tampered"
    printed = check_named(report, "printed_text")
    assert printed.passed is False
    assert "姓名" in printed.reason and "姓名" in printed.reason_zh
    assert "公民身份号码" not in printed.reason
    assert "张晓明" not in shown(report)


@needs_ocr
def test_a_painted_over_id_number_on_a_photo_is_tampered(platform: Any, id_card: Any, page: Image.Image) -> None:
    report = check_image(platform, photographed(painted(id_card.pdf, page, "110101199003071233")), now=NOW)
    assert report.verdict == "tampered"
    assert "公民身份号码" in check_named(report, "printed_text").reason_zh


# --- several codes ----------------------------------------------------------------------------------


def with_sticker(page: Image.Image, text: str) -> bytes:
    """The page with a second code stuck on it, top right."""
    sticker = Image.open(io.BytesIO(qr_png(text, scale=4))).convert("RGB")
    out = page.copy()
    out.paste(sticker, (out.width - sticker.width - 60, 40))
    return encode(out)


def test_codes_of_two_licences_make_the_picture_tampered(platform: Any, page: Image.Image, issued_samples: dict[str, Any], id_card: Any) -> None:
    other = issued_samples["degree_certificate"]
    report = check_image(platform, with_sticker(page, other.qr_text), now=NOW)
    assert report.verdict == "tampered"
    single = check_named(report, "single_code")
    assert single.passed is False
    assert single.reason.startswith("more than one licence code in the picture")
    assert id_card.identifier in single.reason and other.identifier in single.reason
    assert "(valid)" in single.reason and "有效" in single.reason_zh


def test_a_minted_code_of_the_same_licence_beside_the_genuine_one_is_tampered(
    platform: Any, page: Image.Image, departments: dict[str, str], id_card: Any
) -> None:
    """Whichever code is larger: an insider's payload for the same identifier (another holder)
    stuck beside the genuine code makes the picture tampered, listing both."""
    from dataclasses import replace

    from licence_svc.core import cose
    from licence_svc.core.payload import Claims, payload_from_text, qr_text, sign_claims
    from licence_svc.storage.models import Department

    genuine = Claims.from_cbor(cose.parse_sign1(payload_from_text(id_card.qr_text)).payload)
    _, _, creds = platform.signer_for(Department.get_by_id(departments["id_card"]))
    minted = qr_text(platform.settings.base_url, sign_claims(replace(genuine, holder="王*"), creds.key, creds.kid))
    report = check_image(platform, with_sticker(page, minted), now=NOW)
    assert report.verdict == "tampered"
    single = check_named(report, "single_code")
    assert single.passed is False and "(forged)" in single.reason and "(valid)" in single.reason


def test_a_code_that_is_no_licence_is_ignored_with_a_notice(platform: Any, page: Image.Image, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pictures, "TESSERACT", "/nonexistent/tesseract")  # the codes are what this is about
    report = check_image(platform, with_sticker(page, "HTTPS://GOVSERVICE.EXAMPLE.CN/HELP"), now=NOW)
    assert report.verdict == "valid"
    assert check_named(report, "single_code").passed is True
    assert "other_codes_ignored" in notices(report)


def test_a_picture_of_other_codes_only_is_unreadable(platform: Any) -> None:
    with pytest.raises(UnreadableEvidence, match="no licence QR code"):
        check_image(platform, qr_png("WIFI:S:HALL;T:WPA;P:1234;;", scale=6), now=NOW)


def test_a_forged_code_is_not_compared_with_the_register(platform: Any, id_card: Any) -> None:
    text = id_card.qr_text
    forged = text[:-12] + ("A" if text[-12] != "A" else "B") + text[-11:]
    report = check_image(platform, qr_png(forged, scale=5), now=NOW)
    assert report.verdict in ("forged", "tampered")
    assert check_named(report, "printed_text").passed is None


# --- a scan saved as PDF ----------------------------------------------------------------------------


@needs_ocr
def test_an_unsigned_pdf_of_a_genuine_scan_is_valid_as_a_scan(platform: Any, page: Image.Image) -> None:
    pdf = encode(page, "PDF", resolution=150.0)
    report = check_scanned_pdf(platform, pdf, now=NOW)
    assert report.verdict == "valid"
    assert report.evidence == "scan"
    scan = check_named(report, "scan")
    assert (scan.passed, scan.reason_zh) == (None, "扫描件：仅核验二维码")
    assert check_named(report, "printed_text").passed is True


@needs_ocr
def test_an_unsigned_pdf_of_a_painted_scan_is_tampered_for_its_text(platform: Any, id_card: Any, page: Image.Image) -> None:
    pdf = encode(painted(id_card.pdf, page, "张晓明"), "PDF", resolution=150.0)
    report = check_scanned_pdf(platform, pdf, now=NOW)
    assert report.verdict == "tampered"
    assert [c.name for c in report.checks if c.passed is False] == ["printed_text"]


def test_a_pdf_that_is_no_pdf_is_unreadable(platform: Any) -> None:
    with pytest.raises(UnreadableEvidence, match="rasterise"):
        check_scanned_pdf(platform, b"%PDF-1.7\nnot really\n", now=NOW)


def test_a_pdf_without_a_code_is_unreadable(platform: Any) -> None:
    with pytest.raises(UnreadableEvidence, match="no QR code"):
        check_scanned_pdf(platform, encode(Image.new("RGB", (620, 877), "white"), "PDF", resolution=75.0), now=NOW)


def test_only_the_first_pages_are_rasterised_at_a_bounded_size() -> None:
    blank = Image.new("L", (200, 20000), 255)  # a page 20,000 px (267 inches) tall
    pdf = encode(blank, "PDF", resolution=75.0, save_all=True, append_images=[blank] * 9)
    pages = pictures.rasterise(pdf)
    assert len(pages) == pictures.MAX_SCAN_PAGES
    assert all(max(p.size) == pictures.SCAN_LONG_SIDE for p in pages)


# --- hostile images ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(1, 25_000_000), (25_000_000, 1), (2, 12_000_000)], ids=["1x25M", "25Mx1", "2x12M"])
def test_a_strip_of_pixels_is_refused(platform: Any, size: tuple[int, int]) -> None:
    data = encode(Image.new("1", size, 1), "PNG")
    with pytest.raises(ImageTooLarge):
        check_image(platform, data, now=NOW)


# --- OCR missing, failing, too slow -----------------------------------------------------------------


def test_without_tesseract_the_printed_text_is_skipped_with_a_note(platform: Any, page: Image.Image, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pictures, "TESSERACT", "/nonexistent/tesseract")
    report = check_image(platform, encode(page), now=NOW)
    assert report.verdict == "valid"
    printed = check_named(report, "printed_text")
    assert printed.passed is None
    assert "tesseract" in printed.reason and "tesseract" in printed.reason_zh
    assert {"printed_text_not_compared", "compare_printed_text"} <= set(notices(report))


@pytest.fixture()
def slow_tesseract(tmp_path: Path) -> str:
    script = tmp_path / "tesseract"
    script.write_text("#!/bin/sh\nexec sleep 30\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


def test_an_ocr_run_that_overruns_its_time_is_skipped(platform: Any, page: Image.Image, monkeypatch: pytest.MonkeyPatch, slow_tesseract: str) -> None:
    monkeypatch.setattr(pictures, "TESSERACT", slow_tesseract)
    monkeypatch.setattr(pictures, "OCR_TIMEOUT", 0.5)
    report = check_image(platform, encode(page), now=NOW)
    assert report.verdict == "valid"
    assert check_named(report, "printed_text").reason == "not checked: OCR gave no answer"


def test_a_sheet_too_large_for_ocr_is_refused_before_running_it() -> None:
    with pytest.raises(ValueError, match="OCR limit"):
        pictures.run_ocr(Image.new("L", (4000, 4000), 255))
