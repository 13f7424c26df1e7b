"""Verifying a picture of a licence (a photo, a scan, a scan saved as PDF): every code in it, and
whether its printed text is the licence's.

A picture is not the signed file: its code may be genuine while the name and number printed next to
it were painted over or changed. So besides the code (checked against the register as any QR text
is), the report holds

1. ``single_code``: the picture holds one licence code, however many times; two different codes
   make it ``tampered`` (one page's code pasted onto another, or a minted code beside the genuine
   one — a licence has one QR text); codes that are no licence link (a help-desk sticker) are
   ignored, with a notice;
2. ``printed_text``: the table printed around the code, read with OCR (tesseract) and held to the
   signed fields kept in the register (core.printedtext); a blank or different name, number or date
   makes it ``tampered``. Without tesseract, or when the page cannot be read, the check is skipped,
   never failed; a notice always tells the clerk to compare the printed text with the fields shown;
3. for a PDF without a signature, ``scan``: the file is not the signed original, only its code and
   printed text were checked.

Not audited: the caller records the verification. tesseract and pdftoppm run as subprocesses with
a timeout, memory and CPU limits, and bounded input.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image

from ..core import printedtext as pt
from ..core.payload import data_digest
from ..core.qrread import QrScan, Symbol, read_qr_codes, read_qr_codes_in
from ..core.verify import PRINTED_TEXT, SCAN, SINGLE_CODE, VERDICT_LABELS, Check, Notice, Report
from ..errors import LicenceError, UnreadableEvidence
from ..storage.licences import find_licence
from .platform import Platform
from .online import verify_text_online

log = logging.getLogger(__name__)

TESSERACT = shutil.which("tesseract") or "/usr/bin/tesseract"
"""The OCR program (Debian: tesseract-ocr and tesseract-ocr-chi-sim). Missing: printed text is not checked."""
PDFTOPPM = shutil.which("pdftoppm") or "/usr/bin/pdftoppm"
"""The PDF rasteriser (Debian: poppler-utils)."""

OCR_TIMEOUT = 15.0
"""Seconds tesseract may take for one sheet (~0.3-0.6 s for a one-page table on one core)."""
RASTER_TIMEOUT = 20.0
"""Seconds pdftoppm may take for the first pages."""
TOOL_MEMORY = 1024 * 1024 * 1024
"""Address space of either tool: tesseract with the Chinese model takes ~150 MB."""
MAX_OCR_PIXELS = 12_000_000
"""Largest sheet handed to OCR (48 rows of a 150 dpi table are ~8 MP)."""

MAX_SCAN_PAGES = 4
"""Pages of a scanned PDF looked at: a household register's front page and three members."""
SCAN_LONG_SIDE = 1754
"""Each page is rasterised to this many pixels on its longer side (A4 at 150 dpi), whatever its size."""
MAX_ZONES = 4
"""Licence pages in one picture whose tables are read (each has its own code)."""
MAX_SCAN_BYTES = 50 * 1024 * 1024
"""Largest PDF rasterised."""

NOT_GENUINE = ("tampered", "forged", "untrusted")
"""Verdicts after which the register's data is not compared: the code is no licence the register
vouches for."""


class OcrUnavailable(LicenceError):
    """The OCR program is not installed (or cannot be run)."""


class OcrFailed(LicenceError):
    """The OCR program ran but gave no answer (timeout, crash, memory)."""


# --------------------------------------------------------------------------------------------
# The subprocesses


PRLIMIT = shutil.which("prlimit")
"""util-linux's prlimit sets the tool's limits between fork and exec; Python's preexec_fn would run
Python code in the child of a process that may have threads (the PDF sandbox's pool has)."""


def _run(args: list[str], stdin: bytes, *, timeout: float) -> bytes:
    """Run a tool with ``stdin``, limited in memory, CPU and wall time; its stdout. Raises
    FileNotFoundError when it is not installed, subprocess errors otherwise."""
    program = args[0]
    if not (os.path.isfile(program) and os.access(program, os.X_OK)):
        raise FileNotFoundError(program)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_THREAD_LIMIT": "1", "LC_ALL": "C.UTF-8"}
    cpu = int(timeout) + 1
    if PRLIMIT:
        args = [PRLIMIT, f"--as={TOOL_MEMORY}", f"--cpu={cpu}", "--core=0", "--", *args]
    proc = subprocess.run(args, input=stdin, capture_output=True, timeout=timeout, check=True, env=env)
    return proc.stdout


def run_ocr(image: Image.Image, *, binary: str | None = None, timeout: float | None = None) -> str:
    """tesseract's TSV for ``image`` (one block of lines, Simplified Chinese). Raises
    :class:`OcrUnavailable` when tesseract cannot be started, :class:`OcrFailed` when it fails or
    overruns ``timeout``, ValueError for an image over :data:`MAX_OCR_PIXELS`."""
    if image.width * image.height > MAX_OCR_PIXELS:
        raise ValueError(f"sheet of {image.width}×{image.height} pixels is over the OCR limit")
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    program = binary or TESSERACT
    timeout = timeout or OCR_TIMEOUT
    # psm 6: one uniform block of text, each table row a line on the sheet
    args = [program, "stdin", "stdout", "-l", "chi_sim", "--psm", "6", "--dpi", str(pt.OCR_DPI), "tsv"]
    try:
        out = _run(args, buf.getvalue(), timeout=timeout)
    except FileNotFoundError as exc:
        raise OcrUnavailable(f"OCR program {program} cannot be run") from exc
    except subprocess.TimeoutExpired as exc:
        raise OcrFailed(f"OCR took more than {timeout:g} s") from exc
    except subprocess.CalledProcessError as exc:
        raise OcrFailed(f"OCR failed (exit status {exc.returncode})") from exc
    return out.decode("utf-8", "replace")


def rasterise(pdf: bytes, *, pages: int = MAX_SCAN_PAGES, binary: str | None = None, timeout: float | None = None) -> list[Image.Image]:
    """The first ``pages`` pages of a PDF as greyscale images, each :data:`SCAN_LONG_SIDE` pixels on
    its longer side (a page size in the PDF cannot make it bigger). Raises UnreadableEvidence when
    the PDF is too big, cannot be rasterised in time, or pdftoppm is missing."""
    if len(pdf) > MAX_SCAN_BYTES:
        raise UnreadableEvidence(f"PDF of {len(pdf)} bytes; the limit for a scan is {MAX_SCAN_BYTES}")
    program = binary or PDFTOPPM
    timeout = timeout or RASTER_TIMEOUT
    args = [program, "-f", "1", "-l", str(max(1, pages)), "-scale-to", str(SCAN_LONG_SIDE), "-gray", "-"]
    try:
        out = _run(args, pdf, timeout=timeout)
    except FileNotFoundError as exc:
        raise UnreadableEvidence("the PDF cannot be rasterised here (pdftoppm is not installed)") from exc
    except subprocess.TimeoutExpired as exc:
        raise UnreadableEvidence("the PDF took too long to rasterise") from exc
    except subprocess.CalledProcessError as exc:
        raise UnreadableEvidence("the PDF cannot be rasterised") from exc
    images = _split_pgm(out, limit=pages)
    if not images:
        raise UnreadableEvidence("the PDF has no page to look at")
    return images


def _split_pgm(data: bytes, *, limit: int) -> list[Image.Image]:
    """Binary PGM images (P5, 8 bit) written one after another, as pdftoppm writes them to stdout."""
    images: list[Image.Image] = []
    pos = 0
    while pos < len(data) and len(images) < limit:
        fields: list[bytes] = []
        while len(fields) < 4:  # magic, width, height, maxval; one whitespace byte after the last
            while pos < len(data) and data[pos : pos + 1].isspace():
                pos += 1
            end = pos
            while end < len(data) and not data[end : end + 1].isspace():
                end += 1
            if end == pos:
                return images
            fields.append(data[pos:end])
            pos = end
        pos += 1
        if fields[0] != b"P5" or fields[3] != b"255" or not (fields[1].isdigit() and fields[2].isdigit()):
            return images
        width, height = int(fields[1]), int(fields[2])
        if width * height > SCAN_LONG_SIDE * SCAN_LONG_SIDE or width * height == 0 or pos + width * height > len(data):
            return images
        images.append(Image.frombytes("L", (width, height), data[pos : pos + width * height]))
        pos += width * height
    return images


# --------------------------------------------------------------------------------------------
# The use cases


def check_image(platform: Platform, image: bytes, *, now: datetime) -> Report:
    """Verify a photo or scan (JPEG or PNG) of a printed licence: every code in it against the
    register, and its printed text against the licence's signed fields. Evidence "image"; not audited.

    Raises ImageTooLarge, or UnreadableEvidence when no licence code can be read.
    """
    return _verify_pictures([read_qr_codes(image)], platform, now=now, evidence="image")


def check_scanned_pdf(platform: Platform, pdf: bytes, *, now: datetime) -> Report:
    """Verify a PDF that carries no signature (a scan saved as PDF) as pictures of its first pages:
    the verdict comes from the code and the printed text, never from the missing signature; a
    ``scan`` check says the file is not the signed original. Evidence "scan"; not audited.

    Raises UnreadableEvidence when the PDF cannot be rasterised or no licence code can be read.
    """
    scans: list[QrScan] = []
    for page in rasterise(pdf):
        try:
            scans.append(read_qr_codes_in(page))
        except UnreadableEvidence:
            continue  # a page without a code (the back of a card, a cover sheet)
    if not scans:
        raise UnreadableEvidence("no QR code found in the scanned PDF")
    report = _verify_pictures(scans, platform, now=now, evidence="scan")
    scan = Check(
        SCAN,
        None,
        "scan: only the QR code (and printed text) verified; the file is not the signed original",
        "扫描件：仅核验二维码",
    )
    return report.amend(((scan, None),), evidence="scan")


@dataclass(frozen=True)
class _Code:
    """One distinct licence code of the pictures, its report and where it is printed."""

    text: str
    report: Report
    places: tuple[tuple[QrScan, Symbol], ...]

    @property
    def identifier(self) -> str:
        """The licence the code names; a damaged code names none."""
        return str(self.report.licence["identifier"]) if self.report.licence else "(damaged code)"


def _verify_pictures(scans: Sequence[QrScan], platform: Platform, *, now: datetime, evidence: str) -> Report:
    # 1. Every distinct code: a licence link is verified against the register; anything else ignored.
    places: dict[str, list[tuple[QrScan, Symbol]]] = {}
    for scan in scans:
        for symbol in scan.symbols:
            places.setdefault(symbol.text, []).append((scan, symbol))
    codes: list[_Code] = []
    ignored = 0
    for text, where in places.items():
        try:
            report = verify_text_online(platform, text, now)
        except UnreadableEvidence:
            ignored += 1
            continue
        codes.append(_Code(text, report, tuple(where)))
    if not codes:
        raise UnreadableEvidence("no licence QR code found in the picture")
    notices: list[Notice] = []
    if ignored:
        notices.append(
            Notice(
                "other_codes_ignored",
                f"{ignored} QR code(s) in the picture are not licence codes and were ignored",
                f"图中另有 {ignored} 个非证照二维码，已忽略",
            )
        )
    base = codes[0]
    report = base.report.amend(evidence=evidence)
    # 2. One code per picture: a licence has one QR text, so two different texts — even naming
    # the same licence (a genuine code beside one an insider minted for another holder) — mean
    # at most one of them is what was issued.
    if len(codes) > 1:
        listing = "; ".join(f"{c.identifier} ({c.report.verdict})" for c in codes)
        listing_zh = "；".join(f"{c.identifier}（{VERDICT_LABELS[c.report.verdict]}）" for c in codes)
        single = Check(
            SINGLE_CODE,
            False,
            f"more than one licence code in the picture: {listing}",
            f"图中有多个不同证照的二维码：{listing_zh}",
        )
        report = report.amend(((single, "tampered"),))
    else:
        count = sum(len(c.places) for c in codes)
        single = Check(SINGLE_CODE, True, f"one licence code in the picture ({count} found)", f"图中仅有一个证照的二维码（共识读 {count} 处）")
        report = report.amend(((single, None),))
    # 3. The printed text, against the register's data for that licence.
    return _printed_text(report, base, platform, notices)


def _compare_notice() -> Notice:
    return Notice(
        "compare_printed_text",
        "A picture is not the signed licence: compare the name, numbers and dates printed on it with "
        "the signed fields shown here (masked) before relying on it",
        "图片并非签名原件：请将图片上印刷的姓名、号码、日期与本页显示的（已脱敏）签名信息逐项核对后再采信",
    )


def _skipped(report: Report, notices: list[Notice], reason: str, reason_zh: str) -> Report:
    check = Check(PRINTED_TEXT, None, f"not checked: {reason}", f"未核验：{reason_zh}")
    not_compared = Notice(
        "printed_text_not_compared",
        f"the printed text was not compared automatically ({reason})",
        f"未能自动比对印刷文字（{reason_zh}），请人工核对",
    )
    return report.amend(((check, None),), warnings=(*notices, not_compared, _compare_notice()))


def _printed_text(report: Report, code: _Code, platform: Platform, notices: list[Notice]) -> Report:
    """4. The table printed around the licence's code, read with OCR and held to its signed fields."""
    if code.report.verdict in NOT_GENUINE or code.report.licence is None:
        return _skipped(report, notices, "the code is not a genuine licence of the register", "二维码并非登记库中真实签发的证照")
    try:
        row = find_licence(code.identifier)
    except LicenceError:
        row = None
    if row is None:
        return _skipped(report, notices, "the licence's data is not in the register", "登记库中无该证照数据")
    data: dict[str, Any] = json.loads(row.data_json)
    if data_digest(data).hex() != row.data_digest:  # only what the code's signature covers is held against the picture
        return _skipped(report, notices, "the register's data does not match its signed digest", "登记库数据与其签名摘要不符")
    kind = str(row.kind)
    expected = pt.expected_fields(kind, data)
    zones = [
        pt.table_zone(scan.image, symbol.corners, symbol.version)
        for scan, symbol in code.places[:MAX_ZONES]
        if symbol.version is not None and pt.zone_plausible(symbol.corners, scan.image.size)
    ]
    rows = pt.rows_found(zones)
    if not rows:
        return _skipped(report, notices, "no licence table found around the code", "未在二维码周围找到证照表格")
    sheet = pt.compose_sheet(rows)
    started = time.perf_counter()
    try:
        tsv = run_ocr(sheet.image)
    except OcrUnavailable:
        log.warning("ocr unavailable", extra={"binary": TESSERACT})
        return _skipped(report, notices, "OCR (tesseract) is not installed", "未安装文字识别程序（tesseract）")
    except (OcrFailed, ValueError) as exc:
        log.warning("ocr failed", extra={"error": str(exc)})
        return _skipped(report, notices, "OCR gave no answer", "文字识别未能完成")
    comparison = pt.compare(pt.read_sheet(sheet, pt.parse_tsv(tsv)), kind, expected)
    log.info(
        "printed text compared",
        extra={
            "licence": code.identifier,
            "rows": comparison.rows,
            "labels": comparison.labels_read,
            "outcomes": [f"{f.field}:{f.outcome}" for f in comparison.findings],
            "ocr_ms": round((time.perf_counter() - started) * 1000),
        },
    )
    return _judged(report, comparison, notices)


def _labels(labels: list[str], sep: str) -> str:
    return sep.join(labels)


def _judged(report: Report, comparison: pt.Comparison, notices: list[Notice]) -> Report:
    """The printed_text check from the comparison; fields are named by their labels, never their values."""
    blank = pt.summary(comparison.findings, pt.BLANK)
    differs = pt.summary(comparison.findings, pt.DIFFERS)
    found = pt.summary(comparison.findings, pt.MATCH)
    unread = [label for label in pt.summary(comparison.findings, pt.UNREAD) if label not in found]
    if comparison.passed is None:
        return _skipped(
            report,
            notices,
            f"the printed text could not be read ({comparison.rows} table rows, {comparison.labels_read} labels read)",
            f"无法识别印刷文字（找到表格 {comparison.rows} 行，识别出栏目名 {comparison.labels_read} 个）",
        )
    if comparison.passed is False:
        parts, parts_zh = [], []
        if blank:
            parts.append(f"blank where the licence prints {_labels(blank, ', ')}")
            parts_zh.append(f"{_labels(blank, '、')}一栏为空白")
        if differs:
            parts.append(f"different from the signed {_labels(differs, ', ')}")
            parts_zh.append(f"{_labels(differs, '、')}与签名数据不符")
        check = Check(
            PRINTED_TEXT,
            False,
            "the picture's printed text is not the licence's: " + "; ".join(parts),
            "图片上的印刷文字与证照不符：" + "；".join(parts_zh),
        )
        return report.amend(((check, "tampered"),), warnings=(*notices, _compare_notice()))
    reason = f"printed as signed: {_labels(found, ', ')}"
    reason_zh = f"与签名数据一致：{_labels(found, '、')}"
    if unread:
        reason += f"; not read: {_labels(unread, ', ')}"
        reason_zh += f"；未能识别：{_labels(unread, '、')}"
    return report.amend(((Check(PRINTED_TEXT, True, reason, reason_zh), None),), warnings=(*notices, _compare_notice()))
